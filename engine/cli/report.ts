/**
 * `sluice report <dag>`: what a run did, from the state DB alone: each task's
 * outputs, rejected load lines with their object and line, and every data
 * quality check with observed vs expected.
 */
import { SluiceError, UsageError } from '../errors.js';
import type { DagRun } from '../state/index.js';
import type { App } from './app.js';
import { runIdentity } from './run-command.js';
import { colourState, isoSeconds, printJson, table } from './format.js';
import { type CheckResult, tryFindings } from './findings.js';

export type { CheckResult } from './findings.js';

export interface TaskReport {
  task_id: string;
  operator: string;
  state: string | null;
  try_number: number | null;
  outputs: Record<string, unknown>;
  rejections: { table: string; object: string; line: number; column: string | null; value: string | null; reason: string }[];
  checks: CheckResult[];
}

export interface RunReport {
  run_id: string;
  dag_id: string;
  state: string;
  logical_date: string;
  data_interval: [string, string];
  tasks: TaskReport[];
  checks_failed: number;
  checks_warned: number;
}

async function pickRun(app: App, dagId: string, o: { run?: string; date?: string }): Promise<DagRun> {
  const { store } = app;
  if (o.run) {
    const r = await store.runs.get(o.run);
    if (!r || r.dagId !== dagId) throw new UsageError(`no run '${o.run}' of DAG ${dagId} (see: sluice runs list --dag ${dagId})`);
    return r;
  }
  if (o.date) {
    const d = new Date(o.date);
    if (Number.isNaN(d.getTime()))
      throw new UsageError(`--date '${o.date}' is not a date (use 2018-11-21 or 2018-11-21T00:00:00Z)`);
    const r = await store.runs.forDate(dagId, d);
    if (!r) throw new UsageError(`DAG ${dagId} has no run for ${isoSeconds(d)} (see: sluice runs list --dag ${dagId})`);
    return r;
  }
  const r = (await store.runs.list({ dagId, limit: 1 }))[0];
  if (!r) throw new SluiceError(`DAG ${dagId} has no runs yet (start one: run-dag ${dagId})`);
  return r;
}

export async function buildReport(app: App, run: DagRun): Promise<RunReport> {
  const { store } = app;
  const tries = await store.tasks.tries(run.runId);
  const tasks: TaskReport[] = [];
  for (const ti of await store.tasks.list(run.runId)) {
    const mine = tries.filter((t) => t.taskId === ti.taskId);
    const last = mine[mine.length - 1];
    const { outputs, checks, rejections } = await tryFindings(store, last?.tryId);
    tasks.push({
      task_id: ti.taskId,
      operator: ti.operator,
      state: ti.state,
      try_number: last?.tryNumber ?? null,
      outputs,
      rejections,
      checks,
    });
  }
  const all = tasks.flatMap((t) => t.checks);
  return {
    ...runIdentity(run),
    tasks,
    checks_failed: all.filter((c) => !c.passed && c.severity === 'error').length,
    checks_warned: all.filter((c) => !c.passed && c.severity === 'warn').length,
  };
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v;
  const json = JSON.stringify(v);
  // Long lists (statements run, per-object details) are summarised; --json has them whole.
  if (Array.isArray(v) && json.length > 60) return `[${v.length} items]`;
  return json;
}

export function formatReport(r: RunReport, colour: boolean): string {
  let s = `report ${r.run_id} (${colourState(r.state, colour)}): data interval [${r.data_interval[0]}, ${r.data_interval[1]})\n`;
  s += '\ntasks\n';
  s += table(
    ['task', 'operator', 'state', 'try', 'outputs'],
    r.tasks.map((t) => [
      t.task_id,
      t.operator,
      colourState(t.state, colour),
      t.try_number,
      Object.entries(t.outputs)
        .map(([k, v]) => `${k}=${show(v)}`)
        .join(' ')
        .slice(0, 160),
    ]),
  );
  const rejected = r.tasks.flatMap((t) => t.rejections.map((x) => ({ task: t.task_id, ...x })));
  if (rejected.length) {
    s += `\nrejected lines (${rejected.length})\n`;
    s += table(
      ['task', 'table', 'object', 'line', 'column', 'reason'],
      rejected.slice(0, 100).map((x) => [x.task, x.table, x.object, x.line, x.column, x.reason.slice(0, 120)]),
    );
    if (rejected.length > 100) s += `… and ${rejected.length - 100} more (use --json)\n`;
  }
  const checks = r.tasks.flatMap((t) => t.checks.map((c) => ({ task: t.task_id, ...c })));
  if (checks.length) {
    s += `\ndata quality checks (${checks.length}: ${checks.filter((c) => c.passed).length} passed, ${r.checks_failed} failed, ${r.checks_warned} warnings)\n`;
    s += table(
      ['check', 'severity', 'result', 'observed', 'expected'],
      checks.map((c) => [
        c.name,
        c.severity,
        c.passed
          ? colourState('success', colour).replace('success', 'pass')
          : colourState(c.severity === 'warn' ? 'up_for_retry' : 'failed', colour).replace(
              /up_for_retry|failed/,
              c.severity === 'warn' ? 'WARN' : 'FAIL',
            ),
        show(c.observed).slice(0, 60),
        show(c.expected).slice(0, 60),
      ]),
    );
  }
  return s;
}

/**
 * Prints the report. Exit status 1 when the run failed or an error check
 * failed (a script gating on `sluice report` must not pass a failed run whose
 * checks never ran); 0 otherwise, a run still running included.
 */
export async function reportCommand(
  app: App,
  dagId: string,
  o: { run?: string; date?: string; json?: boolean },
): Promise<number> {
  const report = await buildReport(app, await pickRun(app, dagId, o));
  if (o.json) printJson(report);
  else process.stdout.write(formatReport(report, Boolean(process.stdout.isTTY)));
  return report.state === 'failed' || report.checks_failed > 0 ? 1 : 0;
}
