/**
 * Shell: runs a command, as Airflow's BashOperator. A string runs through
 * `/bin/sh -c`; a list runs as an argv without a shell (no quoting to get
 * wrong). Output lines go to the try's log as they come; the last line (or a
 * JSON object line, with `output: json`) is the task's output.
 *
 * The command runs in its own process group, so an abort (execution_timeout,
 * SIGTERM of the scheduler, a cleared task) stops the command and everything
 * it started: SIGTERM to the group, SIGKILL after a grace period. Processes
 * still in the group when the command itself exits are stopped too: a task
 * leaves nothing running behind it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { z } from 'zod';
import { formatDuration } from '../engine/duration.js';
import { TaskFailure, TaskSkipped } from '../engine/errors.js';
import type { TaskContext } from '../engine/interfaces.js';
import { defineOperator, duration } from '../engine/operator.js';

/** Lines of stderr quoted in a failure's message. */
const STDERR_TAIL_LINES = 20;
/** A line longer than this is logged in pieces (a command printing megabytes without a newline). */
const MAX_LINE_CHARS = 64 * 1024;

export const Shell = defineOperator({
  name: 'Shell',
  description: 'Runs a shell command or an argv list; its output lines go to the log (Airflow BashOperator)',
  params: z
    .object({
      command: z
        .union([z.string().min(1), z.array(z.string()).min(1)], {
          error: 'must be a command string (run by /bin/sh -c) or a list of arguments (run without a shell)',
        })
        .describe(
          'a string run by /bin/sh -c, e.g. "wc -l {{ conn.lake }}/log_data/*.json", or an argv list run without a shell, ' +
            'e.g. [python3, scripts/export.py, "{{ ds }}"]; a Liquid template',
        ),
      env: z
        .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' }), z.string())
        .optional()
        .describe(
          'environment variables for the command (Liquid templates), e.g. {WAREHOUSE_URL: "{{ conn.warehouse }}"}: ' +
            'connection URLs render without their secrets; passwords stay in the variables their URLs name',
        ),
      append_env: z
        .boolean()
        .default(true)
        .describe(
          "true: env is added to Sluice's own environment (PATH, HOME, password variables); false: the command sees only env " +
            "(and the SLUICE_* variables), as Airflow's BashOperator does by default",
        ),
      cwd: z.string().optional().describe('working folder, relative to the project root (default: the project root)'),
      exit_code_skip: z
        .union([z.number().int().min(1).max(255), z.null()])
        .default(99)
        .describe("exit code that marks the task skipped instead of failed (Airflow's skip_on_exit_code); null: none"),
      output: z
        .enum(['last_line', 'json', 'none'])
        .default('last_line')
        .describe(
          'what the task records: last_line: the last stdout line as return_value; json: the last stdout line that is a JSON ' +
            'object, its keys as outputs; none: nothing',
        ),
      kill_grace: duration
        .default(5_000)
        .describe('after an abort, how long the command has to exit on SIGTERM before SIGKILL (e.g. 10s)'),
    })
    .strict(),
  templated: ['command', 'env', 'cwd'],
  async execute(ctx) {
    const { params, log } = ctx;
    const cwd = ctx.resolvePath(params.cwd ?? '.');
    if (!isDirectory(cwd)) {
      throw new TaskFailure(`cwd ${cwd} is not a folder: create it, or fix the task's cwd (relative to the project root)`, {
        retryable: false,
        notRetriedBecause: 'the working folder does not exist',
      });
    }
    const argv = typeof params.command === 'string' ? ['/bin/sh', '-c', params.command] : params.command;
    const env = {
      ...(params.append_env ? process.env : { PATH: process.env.PATH ?? '/usr/bin:/bin' }),
      ...contextEnv(ctx),
      ...params.env,
    };
    log.info({ argv: typeof params.command === 'string' ? undefined : argv, cwd }, `running ${describe(params.command)}`);
    const result = await runProcess(ctx, argv, cwd, env, params.kill_grace);
    if (params.exit_code_skip !== null && result.code === params.exit_code_skip) {
      throw new TaskSkipped(`the command exited with code ${result.code} (exit_code_skip): the task is skipped`);
    }
    if (result.code !== 0) {
      const how = result.code === null ? `was killed by ${result.signal}` : `exited with code ${result.code}`;
      const tail = result.stderrTail.length
        ? `; last lines of stderr:\n${result.stderrTail.join('\n')}`
        : ' (it printed nothing on stderr)';
      throw new TaskFailure(`the command ${how}${tail}`);
    }
    if (params.output === 'last_line') {
      if (result.lastLine !== null) ctx.record({ return_value: result.lastLine });
    } else if (params.output === 'json') {
      if (!result.lastJson) {
        throw new TaskFailure(
          'output: json, but the command printed no JSON object line on stdout: print one (e.g. {"rows": 42}) as its ' +
            'last JSON line, or set output: last_line',
          { retryable: false, notRetriedBecause: 'the command prints no JSON output' },
        );
      }
      ctx.record(result.lastJson);
    }
  },
});

/** What the command sees of its task, as Airflow's AIRFLOW_CTX_* variables. */
function contextEnv(ctx: TaskContext<unknown>): Record<string, string> {
  return {
    SLUICE_DAG_ID: ctx.dagId,
    SLUICE_RUN_ID: ctx.runId,
    SLUICE_TASK_ID: ctx.taskId,
    SLUICE_TRY_NUMBER: String(ctx.tryNumber),
    SLUICE_LOGICAL_DATE: ctx.logicalDate.toISOString(),
    SLUICE_DATA_INTERVAL_START: ctx.dataIntervalStart.toISOString(),
    SLUICE_DATA_INTERVAL_END: ctx.dataIntervalEnd.toISOString(),
  };
}

function describe(command: string | string[]): string {
  const text = typeof command === 'string' ? command : command.join(' ');
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

interface ProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderrTail: string[];
  lastLine: string | null;
  lastJson: Record<string, unknown> | null;
}

/**
 * Runs argv in a new process group, streams its lines into the log, and
 * stops the whole group when the try is aborted or the command exits.
 */
function runProcess(
  ctx: TaskContext<unknown>,
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  killGraceMs: number,
): Promise<ProcessResult> {
  const { log, signal } = ctx;
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const child = spawn(argv[0]!, argv.slice(1), { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const stderrTail: string[] = [];
    let lastLine: string | null = null;
    let lastJson: Record<string, unknown> | null = null;
    let killTimer: NodeJS.Timeout | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let spawnError: Error | null = null;

    /** Signals the command's process group (0: only asks whether it still has members). */
    const killGroup = (sig: NodeJS.Signals | 0): boolean => {
      if (child.pid === undefined) return false;
      try {
        process.kill(-child.pid, sig);
        return true;
      } catch {
        return false; // ESRCH: the group is empty
      }
    };
    const onAbort = () => {
      log.warn(
        { pid: child.pid },
        `aborting the command: SIGTERM to its process group (SIGKILL in ${formatDuration(killGraceMs)})`,
      );
      killGroup('SIGTERM');
      killTimer = setTimeout(() => {
        if (killGroup('SIGKILL')) log.warn({ pid: child.pid }, 'the command outlived its grace period: SIGKILL sent');
      }, killGraceMs);
    };
    signal.addEventListener('abort', onAbort, { once: true });

    const lines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, nl).replace(/\r$/, ''));
          buf = buf.slice(nl + 1);
        }
        while (buf.length > MAX_LINE_CHARS) {
          onLine(buf.slice(0, MAX_LINE_CHARS));
          buf = buf.slice(MAX_LINE_CHARS);
        }
      });
      stream.on('end', () => {
        if (buf) onLine(buf.replace(/\r$/, ''));
        buf = '';
      });
    };
    lines(child.stdout!, (line) => {
      log.info({ stream: 'stdout' }, line);
      if (line.trim() === '') return;
      lastLine = line;
      const json = parseJsonObject(line);
      if (json) lastJson = json;
    });
    lines(child.stderr!, (line) => {
      log.info({ stream: 'stderr' }, line);
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnError =
        err.code === 'ENOENT'
          ? new TaskFailure(`command not found: ${argv[0]} (give a path, or a program on the PATH)`, {
              retryable: false,
              notRetriedBecause: 'the command does not exist',
              cause: err,
            })
          : new TaskFailure(`could not start ${argv[0]}: ${err.message}`, { cause: err });
    });
    child.on('exit', (code, sig) => {
      exited = { code, signal: sig };
      // Anything the command left running in its group (a background job holding the output pipes) is stopped.
      if (killGroup('SIGTERM')) {
        log.warn({ pid: child.pid }, 'processes the command left running in its process group were stopped (SIGTERM)');
        if (!killTimer) killTimer = setTimeout(() => killGroup('SIGKILL'), killGraceMs);
      }
    });
    child.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      // A process that ignored SIGTERM and closed its output still gets its SIGKILL: the pending timer keeps
      // this process alive until then, so nothing outlives the task even when Sluice exits right after it.
      if (killTimer && !killGroup(0)) clearTimeout(killTimer);
      if (spawnError) return reject(spawnError);
      if (signal.aborted) return reject(signal.reason as Error);
      resolve({ code: exited?.code ?? null, signal: exited?.signal ?? null, stderrTail, lastLine, lastJson });
    });
  });
}

/** The line as a JSON object, or null. */
function parseJsonObject(line: string): Record<string, unknown> | null {
  const t = line.trim();
  if (!t.startsWith('{') || !t.endsWith('}')) return null;
  try {
    const v: unknown = JSON.parse(t);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}
