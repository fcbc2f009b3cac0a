/**
 * `--format junit`: the run's data quality checks as a JUnit XML report, the
 * file CI systems (Jenkins, GitLab, GitHub Actions test reporters, Azure
 * Pipelines, CircleCI) read.
 *
 * - One `<testsuite>` per data quality task (a task that recorded checks, or
 *   a DataQuality task), named `<dag>.<task>`; one `<testcase>` per check,
 *   classname `<dag>.<task>`, name the check's name.
 * - fail (an error-severity check failed): `<failure>` with the observed vs
 *   expected value as its message and the sample rows in its body.
 * - error (the check could not run, severity error): `<error>`.
 * - Warnings (a warn-severity check failed or could not run) pass, as they
 *   do in the run: a CI job gates on failures, and `<skipped>` would claim
 *   the check never ran. Each carries `<properties><property name="status"
 *   value="warn"/>` and a `<system-out>` starting with `WARN`, which every
 *   reader above shows with the test case.
 * - A DQ task whose checks never ran (upstream_failed, skipped, or failed
 *   before recording any) gets one test case named after the task:
 *   `<skipped>` when it did not run, `<error>` with the try's error when it failed.
 *
 * Attributes follow the Ant JUnit schema CI tools read (`tests`, `failures`,
 * `errors`, `skipped`, `time`, `timestamp`, `hostname`, `id`, `package` on a
 * suite; counts that add up to the root's). Every text is escaped.
 */
import type { ReportCheck, RunReport, TaskReport } from './model.js';
import { escapeXml as x, showValue } from '../../render/escape.js';

interface Case {
  name: string;
  time: number;
  body: string;
  kind: 'pass' | 'failure' | 'error' | 'skipped';
}

const seconds = (ms: number | null | undefined) => ((ms ?? 0) / 1000).toFixed(3);

/** An ISO 8601 timestamp without zone, as the JUnit schema's `timestamp` wants (times are UTC). */
const stamp = (iso: string | null) => (iso ?? '1970-01-01T00:00:00Z').replace(/(\.\d+)?Z$/, '');

function details(c: ReportCheck): string {
  const lines = [
    `check: ${c.name} (${c.type ?? 'check'}${c.table ? ` on ${c.table}` : ''}, severity ${c.severity})`,
    `status: ${c.status}`,
    `observed: ${showValue(c.observed, 2000)}`,
    `expected: ${showValue(c.expected, 2000)}`,
  ];
  if (c.message) lines.push(`message: ${c.message}`);
  if (c.sample?.length) {
    lines.push(`sample rows (${c.sample.length}):`);
    for (const row of c.sample) lines.push(`  ${JSON.stringify(row)}`);
  }
  return lines.join('\n');
}

function checkCase(c: ReportCheck): Case {
  const props = (status: string) =>
    `<properties><property name="status" value="${x(status)}"/><property name="severity" value="${x(c.severity)}"/>` +
    `<property name="type" value="${x(c.type ?? '')}"/><property name="table" value="${x(c.table ?? '')}"/></properties>`;
  const summary =
    c.status === 'error'
      ? `could not run: ${c.message ?? 'error'}`
      : `observed ${showValue(c.observed)}, expected ${showValue(c.expected)}`;
  const base = { name: c.name, time: c.duration_ms ?? 0 };
  if (c.status === 'pass') return { ...base, kind: 'pass', body: props('pass') };
  if (c.severity === 'warn')
    return {
      ...base,
      kind: 'pass',
      body: `${props(c.status === 'error' ? 'error' : 'warn')}<system-out>${x(`WARN ${summary}\n${details(c)}`)}</system-out>`,
    };
  const tag = c.status === 'error' ? 'error' : 'failure';
  return {
    ...base,
    kind: tag,
    body: `${props(c.status)}<${tag} message="${x(summary)}" type="${x(c.type ?? 'check')}">${x(details(c))}</${tag}>`,
  };
}

/** The test cases of one DQ task: its checks, or one case saying why there are none. */
function taskCases(t: TaskReport): Case[] {
  if (t.checks.length) return t.checks.map(checkCase);
  const last = t.tries[t.tries.length - 1];
  if (t.state === 'failed' && last?.error)
    return [
      {
        name: t.task_id,
        time: t.duration_ms ?? 0,
        kind: 'error',
        body: `<error message="${x(last.error)}" type="TaskFailed">${x(last.error)}</error>`,
      },
    ];
  if (t.state === 'success') return [{ name: t.task_id, time: t.duration_ms ?? 0, kind: 'pass', body: '' }];
  return [
    {
      name: t.task_id,
      time: 0,
      kind: 'skipped',
      body: `<skipped message="${x(`the checks did not run: task state ${t.state ?? 'none'}`)}"/>`,
    },
  ];
}

/** Whether a task is a data quality task: it recorded checks, or runs the DataQuality operator. */
export function isQualityTask(t: TaskReport): boolean {
  return t.checks.length > 0 || /quality/i.test(t.operator);
}

export function renderJunit(r: RunReport): string {
  const suites = r.tasks.filter(isQualityTask).map((t, i) => {
    const cases = taskCases(t);
    const count = (k: Case['kind']) => cases.filter((c) => c.kind === k).length;
    const classname = `${r.dag_id}.${t.task_id}`;
    const body = cases
      .map((c) => `    <testcase name="${x(c.name)}" classname="${x(classname)}" time="${seconds(c.time)}">${c.body}</testcase>`)
      .join('\n');
    return {
      tests: cases.length,
      failures: count('failure'),
      errors: count('error'),
      skipped: count('skipped'),
      time: t.duration_ms ?? 0,
      xml:
        `  <testsuite name="${x(classname)}" tests="${cases.length}" failures="${count('failure')}" errors="${count('error')}" ` +
        `skipped="${count('skipped')}" time="${seconds(t.duration_ms)}" timestamp="${x(stamp(t.started_at ?? r.started_at ?? r.logical_date))}" ` +
        `hostname="${x(t.tries[t.tries.length - 1]?.host ?? 'localhost')}" id="${i}" package="${x(r.dag_id)}">\n` +
        `    <properties>\n` +
        [
          ['dag_id', r.dag_id],
          ['run_id', r.run_id],
          ['run_state', r.state],
          ['logical_date', r.logical_date],
          ['data_interval_start', r.data_interval[0]],
          ['data_interval_end', r.data_interval[1]],
          ['task_state', t.state ?? 'none'],
          ['try_number', String(t.try_number ?? 0)],
        ]
          .map(([k, v]) => `      <property name="${x(k)}" value="${x(v)}"/>\n`)
          .join('') +
        `    </properties>\n${body}${body ? '\n' : ''}  </testsuite>`,
    };
  });
  const sum = (k: 'tests' | 'failures' | 'errors' | 'skipped' | 'time') => suites.reduce((n, s) => n + s[k], 0);
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="${x(`sluice report ${r.dag_id} ${r.run_id}`)}" tests="${sum('tests')}" failures="${sum('failures')}" ` +
    `errors="${sum('errors')}" skipped="${sum('skipped')}" time="${seconds(sum('time'))}" timestamp="${x(stamp(r.started_at ?? r.logical_date))}">\n` +
    suites.map((s) => s.xml + '\n').join('') +
    '</testsuites>\n'
  );
}
