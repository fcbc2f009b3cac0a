/**
 * Alerts: Airflow's on_failure_callback, on_retry_callback,
 * on_success_callback (and a data quality warning) declared in the DAG file
 * and sent by the run loop as webhooks, emails or commands.
 *
 * How they relate to the run:
 * - a task's alerts start when its try is recorded, and go on while the run
 *   goes on (they never hold back a downstream task);
 * - the DAG's on_failure / on_success / on_dq_warning start after the run's
 *   final state is written;
 * - executeRun returns after every alert it started has ended, so a
 *   `run-dag` process does not exit with a message half sent. That wait is
 *   bounded: an alert makes at most retries + 1 attempts of at most
 *   `timeout` each, with retry_delay (doubling) between them.
 * - An alert that fails is logged (WARN, into the try's log: `sluice logs`)
 *   and never changes a task's or the run's state.
 */
import type { Logger } from 'pino';
import type { AlertEvent, AlertSpec, Dag, RunState, TaskSpec } from '../interfaces.js';
import { AlertConfigError, errorMessage } from '../errors.js';
import { redactText, redactValue } from '../redact.js';
import type { DagRun, StateStore, TaskInstance, TaskTry } from '../state/index.js';
import { buildContext, render } from '../template/index.js';
import { describeTarget, sendOnce, type Message } from './send.js';

/** The parts of the run loop's world alerts use. */
export interface AlertDeps {
  store: StateStore;
  /** The logger task loggers are children of: a line with a try_id is stored in that try's log. */
  logger: Logger;
  /** Backoff between attempts (the run's clock: tests skip the wait). Attempt timeouts are wall-clock. */
  sleep: (ms: number) => Promise<void>;
  now: () => Date;
  resolvePath: (p: string) => string;
  env?: NodeJS.ProcessEnv;
}

/** A failed check, as alerts carry it. */
export interface FailingCheck {
  task_id: string;
  name: string;
  type: string | null;
  severity: 'error' | 'warn';
  observed: unknown;
  expected: unknown;
  message: string | null;
}

const EVENT_WORDS: Record<AlertEvent, string> = {
  on_failure: 'failed',
  on_retry: 'is up for retry',
  on_success: 'succeeded',
  on_dq_warning: 'has data quality warnings',
};

/** Failed checks in a try's outputs.checks (the DataQuality operator's results; tolerant of other shapes). */
export function failingChecks(taskId: string, outputs: Record<string, unknown> | null | undefined): FailingCheck[] {
  const list = outputs?.checks;
  if (!Array.isArray(list)) return [];
  const out: FailingCheck[] = [];
  for (const c of list as Record<string, unknown>[]) {
    if (!c || typeof c !== 'object') continue;
    const passed = c.passed === true || c.result === 'pass' || c.result === 'passed' || c.status === 'pass';
    if (passed) continue;
    out.push({
      task_id: taskId,
      name: String(c.name ?? c.type ?? 'check'),
      type: c.type === undefined ? null : String(c.type),
      severity: c.severity === 'warn' ? 'warn' : 'error',
      observed: c.observed ?? null,
      expected: c.expected ?? c.expectation ?? null,
      message: c.message === undefined || c.message === null ? null : String(c.message),
    });
  }
  return out;
}

/** One alert's subject: a task's try, or the run as a whole. */
interface Occasion {
  event: AlertEvent;
  state: string;
  task: { spec: TaskSpec; ti: TaskInstance; tryRow: TaskTry | undefined } | null;
  error: string | null;
  checks: FailingCheck[];
  failedTasks: { task_id: string; state: string; error: string | null }[];
  /** Where the lines about this alert are stored. */
  log: Logger;
}

/** Sends the alerts of one run (one per executeRun). */
export class RunAlerts {
  private readonly pending = new Set<Promise<void>>();
  private readonly env: NodeJS.ProcessEnv;

  constructor(
    private readonly dag: Dag,
    private readonly run: DagRun,
    private readonly deps: AlertDeps,
  ) {
    this.env = deps.env ?? process.env;
  }

  /** Whether the DAG declares any alert (a DAG without any pays nothing). */
  static wanted(dag: Dag): boolean {
    if (dag.alerts) return true;
    for (const t of dag.tasks.values()) if (t.alerts) return true;
    return false;
  }

  /** A try was recorded: the task's state is success, failed or up_for_retry. Does not wait for the alerts. */
  afterTry(taskId: string, ti: TaskInstance): void {
    this.track(this.taskAlerts(taskId, ti));
  }

  /** The run's final state is written; sends the DAG-level alerts. Does not wait for them. */
  afterRun(final: RunState): void {
    if (final !== 'success' && final !== 'failed') return;
    this.track(this.runAlerts(final));
  }

  /** Waits for every alert started so far (each is bounded by its timeout and retries). */
  async settle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  private track(p: Promise<void>): void {
    const q = p
      .catch((err: unknown) => this.deps.logger.warn({ err: redactText(errorMessage(err)) }, 'alerts could not be sent'))
      .finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  private async taskAlerts(taskId: string, ti: TaskInstance): Promise<void> {
    const spec = this.dag.tasks.get(taskId);
    if (!spec) return;
    const event: AlertEvent | null =
      ti.state === 'failed'
        ? 'on_failure'
        : ti.state === 'up_for_retry'
          ? 'on_retry'
          : ti.state === 'success'
            ? 'on_success'
            : null;
    if (!event) return;
    const own = spec.alerts?.[event] ?? [];
    const dagWide = event === 'on_retry' ? (this.dag.alerts?.on_retry ?? []) : [];
    const dq = event === 'on_success' ? (spec.alerts?.on_dq_warning ?? []) : [];
    if (!own.length && !dagWide.length && !dq.length) return;

    const { store } = this.deps;
    const tryRow = await store.tasks.getTry(this.run.runId, taskId, ti.tryNumber);
    const checks = tryRow ? failingChecks(taskId, await store.tasks.outputs(tryRow.tryId)) : [];
    const log = this.tryLogger(taskId, tryRow);
    const base = { task: { spec, ti, tryRow }, error: tryRow?.error ?? null, failedTasks: [], log };
    const sends: Promise<void>[] = [];
    for (const a of [...own, ...dagWide]) sends.push(this.send(a, { ...base, event, state: ti.state!, checks }));
    const warnings = checks.filter((c) => c.severity === 'warn');
    if (warnings.length) {
      for (const a of dq) sends.push(this.send(a, { ...base, event: 'on_dq_warning', state: 'success', checks: warnings }));
    }
    await Promise.all(sends);
  }

  private async runAlerts(final: 'success' | 'failed'): Promise<void> {
    const hooks = this.dag.alerts;
    if (!hooks) return;
    const { store } = this.deps;
    const runId = this.run.runId;
    const tis = await store.tasks.list(runId);
    const tries = await store.tasks.tries(runId);
    const latest = new Map<string, TaskTry>();
    for (const t of tries) latest.set(t.taskId, t);
    const checks: FailingCheck[] = [];
    for (const [taskId, o] of await store.tasks.latestOutputs(runId)) checks.push(...failingChecks(taskId, o.outputs));
    const failedTasks = tis
      .filter((t) => t.state === 'failed' || t.state === 'upstream_failed')
      .map((t) => ({
        task_id: t.taskId,
        state: t.state!,
        error: t.state === 'failed' ? (latest.get(t.taskId)?.error ?? null) : null,
      }));
    // The run has no log of its own: its lines go to the log of the failed try (on_failure) or of the last try that ended.
    const ended = tries.filter((t) => t.endedAt).sort((a, b) => a.endedAt!.getTime() - b.endedAt!.getTime());
    const failedTry = [...ended].reverse().find((t) => t.state === 'failed');
    const at = (final === 'failed' ? failedTry : undefined) ?? ended[ended.length - 1];
    const log = this.tryLogger(at?.taskId ?? null, at);
    const firstError = failedTasks.find((t) => t.error)?.error ?? null;
    const base = { task: null, failedTasks, log };
    const sends: Promise<void>[] = [];
    const event = final === 'failed' ? 'on_failure' : 'on_success';
    for (const a of hooks[event] ?? []) sends.push(this.send(a, { ...base, event, state: final, error: firstError, checks }));
    const warnings = checks.filter((c) => c.severity === 'warn');
    if (warnings.length) {
      for (const a of hooks.on_dq_warning ?? [])
        sends.push(this.send(a, { ...base, event: 'on_dq_warning', state: final, error: null, checks: warnings }));
    }
    await Promise.all(sends);
  }

  /** A logger whose lines are stored in the try's log (read back with `sluice logs`). */
  private tryLogger(taskId: string | null, t: TaskTry | undefined): Logger {
    const bindings: Record<string, unknown> = { dag_id: this.dag.id, run_id: this.run.runId };
    if (taskId && t) Object.assign(bindings, { task_id: taskId, try: t.tryNumber, try_id: t.tryId });
    return this.deps.logger.child(bindings);
  }

  /** Sends one alert with its retries; logs how it went. Never throws. */
  private async send(a: AlertSpec, o: Occasion): Promise<void> {
    const scope = o.task ? 'task' : 'DAG';
    const what = `${o.event} alert (${scope}) ${describeTarget(a.target, this.env)}`;
    const attempts = a.retries + 1;
    let last: unknown = null;
    let message: Message;
    try {
      message = await this.message(a, o);
    } catch (err) {
      o.log.warn({ alert: o.event, err: redactText(errorMessage(err)) }, `${what} not sent: ${redactText(errorMessage(err))}`);
      return;
    }
    for (let i = 1; i <= attempts; i++) {
      try {
        const answer = await withTimeout(a.timeoutMs, (signal) => sendOnce(a.target, message, signal, a.timeoutMs, this.env));
        o.log.info({ alert: o.event, attempt: i }, `${what} sent: ${redactText(answer)}`);
        return;
      } catch (err) {
        last = err;
        if (err instanceof AlertConfigError) break;
        if (i < attempts) {
          const delay = a.retryDelayMs * 2 ** (i - 1);
          o.log.debug(
            { alert: o.event, attempt: i, err: redactText(errorMessage(err)) },
            `${what}: attempt ${i} failed; next in ${delay} ms`,
          );
          await this.deps.sleep(delay);
        }
      }
    }
    const why = redactText(errorMessage(last));
    const tries = last instanceof AlertConfigError ? 'not sent' : `failed after ${attempts} attempt${attempts > 1 ? 's' : ''}`;
    o.log.warn({ alert: o.event, outcome: 'failed', err: why }, `${what} ${tries}: ${why} (the run goes on)`);
  }

  /** The link to the report: `sluice report <dag> --run <id>`, or file://<report_file> when the alert names one. */
  private async reportLink(a: AlertSpec, vars: Record<string, unknown>): Promise<string> {
    if (!a.reportFile) return `sluice report ${this.dag.id} --run ${this.run.runId}`;
    const rel = await renderAlert(a.reportFile, vars, 'report_file');
    return new URL(`file://${this.deps.resolvePath(rel)}`).href;
  }

  private async message(a: AlertSpec, o: Occasion): Promise<Message> {
    const run = this.run;
    const ctx = buildContext({
      dagId: this.dag.id,
      runId: run.runId,
      taskId: o.task?.spec.id,
      logicalDate: run.logicalDate,
      dataIntervalStart: run.dataIntervalStart,
      dataIntervalEnd: run.dataIntervalEnd,
      dagParams: this.dag.params,
      conf: run.conf,
      conn: {},
    });
    const vars: Record<string, unknown> = {
      ...ctx,
      task_id: o.task?.spec.id ?? '',
      event: o.event,
      state: o.state,
      error: o.error ?? '',
      try_number: o.task?.ti.tryNumber ?? 0,
    };
    vars.report = await this.reportLink(a, vars);
    const report = String(vars.report);
    const who = o.task ? `${this.dag.id}.${o.task.spec.id}` : `DAG ${this.dag.id}`;
    const tryNote = o.task ? `, try ${o.task.ti.tryNumber} of ${o.task.ti.maxTries}` : '';
    const lines = [`[sluice] ${who} ${EVENT_WORDS[o.event]} (run ${run.runId}${tryNote})`];
    if (o.error) lines.push(`Error: ${o.error}`);
    if (o.task?.ti.nextTryAt && o.event === 'on_retry') lines.push(`Next try at ${o.task.ti.nextTryAt.toISOString()}`);
    for (const t of o.failedTasks) lines.push(`Task ${t.task_id}: ${t.state}${t.error ? `: ${t.error}` : ''}`);
    for (const c of o.checks) {
      lines.push(
        `Check ${c.task_id}.${c.name} (${c.severity}): observed ${show(c.observed)}, expected ${show(c.expected)}${c.message ? ` (${c.message})` : ''}`,
      );
    }
    lines.push(`Report: ${report}`);
    const text = redactText(lines.join('\n'));
    const body = redactValue({
      text,
      event: o.event,
      dag_id: this.dag.id,
      run_id: run.runId,
      logical_date: run.logicalDate.toISOString(),
      data_interval_start: run.dataIntervalStart.toISOString(),
      data_interval_end: run.dataIntervalEnd.toISOString(),
      state: o.state,
      task: o.task
        ? {
            task_id: o.task.spec.id,
            operator: o.task.spec.operator,
            try_number: o.task.ti.tryNumber,
            max_tries: o.task.ti.maxTries,
            state: o.task.ti.state,
            next_try_at: o.event === 'on_retry' ? (o.task.ti.nextTryAt?.toISOString() ?? null) : null,
          }
        : null,
      error: o.error,
      failed_tasks: o.failedTasks,
      checks: o.checks,
      report,
      sent_at: this.deps.now().toISOString(),
    });
    const t = a.target;
    const subject =
      t.kind === 'email' && t.subject
        ? await renderAlert(t.subject, vars, 'email.subject')
        : `[sluice] ${who} ${EVENT_WORDS[o.event]} (${ctx.ds})`;
    const argv =
      t.kind === 'command' ? await Promise.all(t.argv.map((s, i) => renderAlert(s, vars, `command[${i}]`))) : undefined;
    return { body, subject: redactText(subject), text, argv };
  }
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '-' : JSON.stringify(v);
}

async function renderAlert(template: string, vars: Record<string, unknown>, field: string): Promise<string> {
  try {
    return await render(template, vars as never, `alert ${field}`);
  } catch (err) {
    throw new AlertConfigError(errorMessage(err));
  }
}

/**
 * Runs `work` with a signal aborted after `ms`; rejects then even if the work
 * ignores its signal (it is left to end on its own, its result unused).
 */
async function withTimeout<T>(ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const reason = new Error(`timed out after ${ms} ms`);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort(reason);
      reject(reason);
    }, ms);
  });
  const p = work(ac.signal);
  p.catch(() => undefined);
  try {
    return await Promise.race([p, expired]);
  } finally {
    clearTimeout(timer);
  }
}
