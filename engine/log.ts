/**
 * Logging with pino. Task loggers carry dag_id, run_id, task_id and try; each
 * line is redacted, stored per try in the state DB and, when asked, echoed to
 * the console (pretty on a TTY, JSON otherwise).
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type pinoFactory from 'pino';
import { redactText, redactValue } from './redact.js';
import { errorMessage } from './errors.js';
import type { LogStore } from './state/index.js';

const require = createRequire(import.meta.url);
let pinoModule: typeof pinoFactory | undefined;

/**
 * pino, loaded on the first logger made: every verb makes a console logger,
 * most never write to it, and a command such as `sluice dags list` should
 * not pay for loading pino.
 */
function pino(): typeof pinoFactory {
  return (pinoModule ??= require('pino') as typeof pinoFactory);
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** Keys pino adds, and the task bindings, that are not part of a line's data. */
const META_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'dag_id', 'run_id', 'task_id', 'try', 'try_id']);

export interface ConsoleEcho {
  write(line: string): void;
  /** true: human lines; false: the JSON line as stored. */
  pretty: boolean;
}

function colour(level: string, s: string, on: boolean): string {
  if (!on) return s;
  const code = level === 'error' || level === 'fatal' ? 31 : level === 'warn' ? 33 : level === 'debug' ? 90 : 36;
  return `\x1b[${code}m${s}\x1b[0m`;
}

/** One human line for a log record: `12:00:01 INFO  stage_events#1  rows loaded table=staging_events rows=8056`. */
export function formatLogLine(rec: Record<string, unknown>, useColour = false): string {
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
  const time = new Date((rec.time as number) ?? Date.now()).toISOString().slice(11, 19);
  const who = rec.task_id ? ` ${rec.task_id}#${rec.try}` : '';
  const extras = Object.entries(rec)
    .filter(([k]) => !META_KEYS.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${colour(level, level.toUpperCase().padEnd(5), useColour)}${who}  ${rec.msg ?? ''}${extras ? ' ' + extras : ''}`;
}

/**
 * Where every task log line goes: redacted, then the state store, then the
 * console. pino writes synchronously; the store's append is asynchronous, so
 * writes in flight are kept until they settle (`flush` waits for them). A
 * line the store cannot take is said on stderr: logging never fails a try.
 */
export class TaskLogSink {
  private readonly pending = new Set<Promise<void>>();
  private told = false;

  constructor(
    private readonly logs: LogStore,
    private readonly echo: ConsoleEcho | null,
  ) {}

  /** Resolves when every line written so far is stored (or reported as lost). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all(this.pending);
  }

  write(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = redactValue(JSON.parse(line) as Record<string, unknown>);
    } catch {
      rec = { level: 30, time: Date.now(), msg: redactText(line) };
    }
    const tryId = rec.try_id as number | undefined;
    if (tryId !== undefined) {
      const data: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(rec)) if (!META_KEYS.has(k)) data[k] = v;
      const p = this.logs
        .append(tryId, {
          ts: new Date((rec.time as number) ?? Date.now()),
          level: LEVEL_NAMES[rec.level as number] ?? String(rec.level),
          msg: String(rec.msg ?? ''),
          data: Object.keys(data).length ? data : null,
        })
        .catch((err: unknown) => {
          if (this.told) return;
          this.told = true;
          process.stderr.write(`sluice: could not store log lines of try ${tryId} in the state DB: ${errorMessage(err)}\n`);
        })
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
    if (this.echo) {
      if (this.echo.pretty) this.echo.write(formatLogLine(rec, true) + '\n');
      else {
        delete rec.try_id;
        this.echo.write(JSON.stringify(rec) + '\n');
      }
    }
  }
}

/** A pino logger writing synchronously into a sink (task logs, tests). */
export function createSinkLogger(sink: { write(line: string): void }, level: LogLevel = 'info'): Logger {
  return pino()(
    {
      level,
      base: undefined,
      hooks: {
        // Redact secrets in message strings and interpolation arguments.
        logMethod(args, method) {
          const clean = args.map((a) => (typeof a === 'string' ? redactText(a) : a)) as Parameters<typeof method>;
          return method.apply(this, clean);
        },
      },
    },
    sink,
  );
}

/**
 * The engine's own logger for the console (the scheduler, connection events).
 * Every verb makes one and most never write to it: the pino logger behind it
 * is made (and pino loaded) when it is first used.
 */
export function createConsoleLogger(level: LogLevel, out: NodeJS.WritableStream = process.stderr): Logger {
  const pretty = Boolean((out as NodeJS.WriteStream).isTTY);
  return onFirstUse(() =>
    createSinkLogger(
      {
        write(line: string) {
          const rec = redactValue(JSON.parse(line) as Record<string, unknown>);
          out.write(pretty ? formatLogLine(rec, true) + '\n' : JSON.stringify(rec) + '\n');
        },
      },
      level,
    ),
  );
}

/** A logger that is made by `make` when a property of it is first read or set; methods keep the real logger as `this`. */
function onFirstUse(make: () => Logger): Logger {
  let real: Logger | undefined;
  const logger = (): Logger => (real ??= make());
  return new Proxy({} as Logger, {
    get(_target, key) {
      const l = logger();
      const v: unknown = Reflect.get(l, key, l);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(l) : v;
    },
    set: (_target, key, value) => Reflect.set(logger(), key, value),
    has: (_target, key) => Reflect.has(logger(), key),
  });
}
