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
import type { LogStore, NewLogLine, TryLogLine } from './state/index.js';

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

/** The most lines one write of the sink stores (a try logging in a tight loop is written in chunks). */
const MAX_BATCH_LINES = 500;

/** A line waiting in the sink, numbered in the order it was logged. */
interface Waiting extends TryLogLine {
  seq: number;
}

/**
 * Where every task log line goes: redacted, then the state store, then the
 * console. pino writes synchronously; the store is written asynchronously,
 * one write at a time and in order: a line goes out at once when no write is
 * in flight, else it waits for the write in flight to end and goes with every
 * line that came meanwhile, in one statement (group commit: a busy process
 * with many tries writes a few multi-line INSERTs, not one per line, and a
 * running try's lines are readable from any host as soon as they are logged).
 * A try's end takes its lines still waiting (`take`) to store them with the
 * end itself; `flush` (also pino's `logger.flush(cb)`) waits until the lines
 * logged so far are stored. A write the store refuses is said on stderr:
 * logging never fails a try.
 */
export class TaskLogSink {
  private waiting: Waiting[] = [];
  private inflight: { first: number; tries: Set<number>; ended: Promise<void> } | null = null;
  private seq = 0;
  private told = false;

  constructor(
    private readonly logs: LogStore,
    private readonly echo: ConsoleEcho | null,
  ) {}

  /** Resolves when every line logged so far is stored (or reported as lost); pino's flush passes a callback. */
  flush(cb?: (err?: Error) => void): Promise<void> {
    const upTo = this.seq;
    const done = (async () => {
      for (;;) {
        // The write in flight holds the oldest lines; the waiting ones come after them.
        const oldest = this.inflight?.first ?? this.waiting[0]?.seq;
        if (oldest === undefined || oldest > upTo) return;
        if (!this.inflight) this.store();
        await this.inflight?.ended;
      }
    })();
    return cb ? done.then(() => cb()) : done;
  }

  /**
   * Takes a try's lines not written yet, for its end to store them in its own
   * statement (TryEnd.logLines); resolves once its lines in a write in flight
   * are stored, so the taken ones come after them.
   */
  async take(tryId: number): Promise<NewLogLine[]> {
    const mine = this.waiting.filter((l) => l.tryId === tryId);
    if (mine.length) this.waiting = this.waiting.filter((l) => l.tryId !== tryId);
    while (this.inflight?.tries.has(tryId)) await this.inflight.ended;
    return mine.map((l) => l.line);
  }

  /** Lines taken whose end could not be recorded: written the usual way, not lost. */
  giveBack(tryId: number, lines: NewLogLine[]): void {
    for (const line of lines) this.waiting.push({ tryId, line, seq: ++this.seq });
    this.store();
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
      this.waiting.push({
        tryId,
        seq: ++this.seq,
        line: {
          ts: new Date((rec.time as number) ?? Date.now()),
          level: LEVEL_NAMES[rec.level as number] ?? String(rec.level),
          msg: String(rec.msg ?? ''),
          data: Object.keys(data).length ? data : null,
        },
      });
      this.store();
    }
    if (this.echo) {
      if (this.echo.pretty) this.echo.write(formatLogLine(rec, true) + '\n');
      else {
        delete rec.try_id;
        this.echo.write(JSON.stringify(rec) + '\n');
      }
    }
  }

  /** Writes the waiting lines unless a write is in flight (its end writes them). */
  private store(): void {
    if (this.inflight || this.waiting.length === 0) return;
    const batch = this.waiting.length <= MAX_BATCH_LINES ? this.waiting : this.waiting.slice(0, MAX_BATCH_LINES);
    this.waiting = batch === this.waiting ? [] : this.waiting.slice(MAX_BATCH_LINES);
    const tries = new Set(batch.map((l) => l.tryId));
    let write: Promise<void>;
    try {
      write = this.logs.appendMany(batch.map(({ tryId, line }) => ({ tryId, line })));
    } catch (err) {
      write = Promise.reject(err as Error);
    }
    const ended = write
      .catch((err: unknown) => {
        if (this.told) return;
        this.told = true;
        process.stderr.write(
          `sluice: could not store log lines of ${tries.size > 1 ? 'tries' : 'try'} ${[...tries].join(', ')} in the state DB: ` +
            `${errorMessage(err)}\n`,
        );
      })
      .finally(() => {
        this.inflight = null;
        this.store();
      });
    this.inflight = { first: batch[0]!.seq, tries, ended };
  }
}

/**
 * Records a try's end (`record`) with the try's log lines still waiting in
 * its logger's TaskLogSink, so they are stored in the same statement as the
 * end, after the lines already written: one write fewer per try, and no end
 * recorded before the try's last lines. Lines whose end fails are written the
 * usual way. A logger writing elsewhere is flushed first.
 */
export async function recordWithLines<T>(log: Logger, tryId: number, record: (lines: NewLogLine[]) => Promise<T>): Promise<T> {
  const sink = (log as unknown as Record<symbol, unknown>)[pino().symbols.streamSym];
  if (!(sink instanceof TaskLogSink)) {
    await new Promise<void>((resolve) => log.flush(() => resolve()));
    return record([]);
  }
  const lines = await sink.take(tryId);
  try {
    return await record(lines);
  } catch (err) {
    sink.giveBack(tryId, lines);
    throw err;
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
