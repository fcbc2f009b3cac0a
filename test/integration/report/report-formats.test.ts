/**
 * The report model and its text, json and junit renderers over a real SQLite
 * state store holding real runs (the runner stores each try's check results
 * and row counts as quality history): history windows, status counts, exit
 * status, NO_COLOR, JUnit read back by a real XML parser, escaping.
 */
import { expect } from 'chai';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { defaultRegistry } from '../../../operators/index.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { RecordChecks, RecordLoad, REPORT_DAG, REPORT_DAYS } from '../../fixtures/report-operators.js';
import { buildReport, exitStatus, pickRun, type RunReport } from '../../../engine/cli/report/model.js';
import { renderText, useColour } from '../../../engine/cli/report/text.js';
import { renderJunit } from '../../../engine/cli/report/junit.js';
import { renderReport } from '../../../engine/cli/report.js';

/** Runs REPORT_DAG on each of REPORT_DAYS in a fresh store. */
export async function seededHarness(): Promise<Harness> {
  const registry = defaultRegistry();
  registry.register(RecordLoad);
  registry.register(RecordChecks);
  const h = harness({ registry });
  const dag = h.dag(REPORT_DAG);
  for (const day of REPORT_DAYS) await h.run(dag, { logicalDate: new Date(`${day}T00:00:00Z`) });
  return h;
}

type Json = Record<string, unknown>;
const asArray = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : v === undefined ? [] : [v as Json]);

describe('sluice report: the model and its text, json and junit formats (SQLite store, real runs)', function () {
  let h: Harness;
  let latest: RunReport;
  before(async () => {
    h = await seededHarness();
    latest = await buildReport(h.store, await pickRun(h.store, 'dq', {}), { last: 30 });
  });
  after(async () => h?.close());

  it('reports the latest run: statuses, counts, samples, and exit status 1 for its failed error check', () => {
    expect(latest.logical_date).to.equal('2024-01-03T00:00:00Z');
    expect(latest.state).to.equal('failed');
    const q = latest.tasks.find((t) => t.task_id === 'quality')!;
    expect(q.checks.map((c) => [c.name, c.status])).to.deep.equal([
      ['songplays_in_interval', 'fail'],
      ['users_not_null', 'pass'],
      ['few_users', 'warn'],
      ['schema<b>odd</b>', 'error'],
    ]);
    expect(q.checks[0]!.sample).to.have.length(2);
    expect(q.checks[0]!.table).to.equal('songplays');
    expect(q.checks[3]!.message).to.contain('does not exist');
    expect([
      latest.checks_total,
      latest.checks_passed,
      latest.checks_failed,
      latest.checks_warned,
      latest.checks_errored,
    ]).to.deep.equal([4, 1, 1, 2, 1]);
    expect(exitStatus(latest)).to.equal(1);
    expect(q.tries).to.have.length(1);
    expect(q.tries[0]!.state).to.equal('failed');
  });

  it('builds trends over the last N runs up to the reported one, oldest first', async () => {
    expect(latest.history.runs.map((r) => [r.logical_date.slice(0, 10), r.state])).to.deep.equal([
      ['2024-01-01', 'success'],
      ['2024-01-02', 'success'],
      ['2024-01-03', 'failed'],
    ]);
    const songplays = latest.history.tables.find((t) => t.table === 'songplays')!;
    expect(songplays.points.map((p) => p.rows)).to.deep.equal([100, 120, 40]);
    expect(latest.history.tables.map((t) => t.table).sort()).to.deep.equal([
      'odd<svg onload=alert(1)>&name',
      'songplays',
      'users',
    ]);
    const few = latest.history.checks.find((c) => c.check === 'few_users')!;
    expect(few.points.map((p) => p.status)).to.deep.equal(['pass', 'warn', 'warn']);
    const sp = latest.history.checks.find((c) => c.check === 'songplays_in_interval')!;
    expect(sp.points.map((p) => p.observed)).to.deep.equal([100, 120, 0]);

    // --last 2 keeps the two newest; reporting the 2nd day sees only days 1 and 2 (never the future).
    const two = await buildReport(h.store, await pickRun(h.store, 'dq', {}), { last: 2 });
    expect(two.history.runs.map((r) => r.logical_date.slice(0, 10))).to.deep.equal(['2024-01-02', '2024-01-03']);
    expect(two.history.tables.find((t) => t.table === 'songplays')!.points.map((p) => p.rows)).to.deep.equal([120, 40]);
    const day2 = await buildReport(h.store, await pickRun(h.store, 'dq', { date: '2024-01-02' }), { last: 30 });
    expect(day2.history.runs.map((r) => r.logical_date.slice(0, 10))).to.deep.equal(['2024-01-01', '2024-01-02']);
    expect(day2.state).to.equal('success');
    expect(exitStatus(day2)).to.equal(0);
    expect(day2.checks_warned).to.equal(1);
  });

  it('text: the checks table, samples, trends; colour only on a TTY without NO_COLOR', () => {
    const plain = renderText(latest, false);
    expect(plain).to.match(/songplays_in_interval\s+error\s+FAIL\s+0\s/);
    expect(plain).to.match(/few_users\s+warn\s+WARN\s+7\s/);
    expect(plain).to.match(/schema<b>odd<\/b>\s+warn\s+ERROR\s/);
    expect(plain).to.contain('<script>alert(1)</script>');
    expect(plain).to.match(/trend over the last 3 runs/);
    expect(plain).to.match(/songplays\s+[▁-█]{3}\s+40\s+120\s+40/);
    expect(plain).to.match(/few_users\s+✓WW/);
    expect(plain).not.to.contain('\x1b[');
    const coloured = renderText(latest, true);
    expect(coloured).to.contain('\x1b[31mFAIL\x1b[0m');
    expect(useColour({ isTTY: true }, {})).to.equal(true);
    expect(useColour({ isTTY: true }, { NO_COLOR: '1' })).to.equal(false);
    expect(useColour({ isTTY: false }, {})).to.equal(false);
  });

  it('json: the documented shape, parsed back', async () => {
    const r = JSON.parse(await renderReport(latest, 'json')) as RunReport;
    expect(Object.keys(r)).to.include.members([
      'report_version',
      'run_id',
      'dag_id',
      'state',
      'logical_date',
      'data_interval',
      'tasks',
      'checks_total',
      'checks_failed',
      'checks_warned',
      'history',
    ]);
    expect(r.report_version).to.equal(1);
    const c = r.tasks.find((t) => t.task_id === 'quality')!.checks[0]!;
    expect(Object.keys(c)).to.include.members([
      'name',
      'type',
      'table',
      'severity',
      'status',
      'passed',
      'observed',
      'expected',
      'sample',
    ]);
    expect(Object.keys(r.history)).to.deep.equal(['last', 'runs', 'tables', 'checks']);
  });

  it('junit: well-formed XML in the shape CI tools read, counts that add up, failures and warnings as documented', () => {
    const xml = renderJunit(latest);
    expect(XMLValidator.validate(xml)).to.equal(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false }).parse(
      xml,
    ) as Json;
    const root = doc.testsuites as Json;
    const suites = asArray(root.testsuite);
    expect(suites.map((s) => s.name)).to.deep.equal(['dq.quality']);
    const suite = suites[0]!;
    for (const k of ['name', 'tests', 'failures', 'errors', 'skipped', 'time', 'timestamp', 'hostname', 'id', 'package'])
      expect(suite, k).to.have.property(k);
    expect(String(suite.timestamp)).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    const cases = asArray(suite.testcase);
    expect(cases.map((c) => c.name)).to.deep.equal(['songplays_in_interval', 'users_not_null', 'few_users', 'schema<b>odd</b>']);
    for (const c of cases) {
      expect(c.classname).to.equal('dq.quality');
      expect(String(c.time)).to.match(/^\d+\.\d{3}$/);
    }
    const failure = cases[0]!.failure as Json;
    expect(failure.message).to.equal('observed 0, expected >= 1');
    expect(failure.type).to.equal('row_count');
    // the sample rows come back exactly (markup intact as text; JSON spells the control character)
    expect(String(failure['#text'])).to.contain('<script>alert(1)</script>').and.contain('bell\\u0001char ]]> end');
    const prop = (c: Json, name: string) => asArray((c.properties as Json).property).find((p) => p.name === name)?.value;
    expect(prop(cases[2]!, 'status')).to.equal('warn');
    expect(String(cases[2]!['system-out'])).to.match(/^WARN observed 7, expected >= 10/);
    expect(cases[2]).not.to.have.property('failure');
    expect(cases[3]).not.to.have.property('error'); // a warn-severity check that could not run warns, never fails CI
    expect(prop(cases[3]!, 'status')).to.equal('error');
    // counts add up: per suite from its cases, the root from its suites
    const n = (k: string) => Number(suite[k]);
    expect([n('tests'), n('failures'), n('errors'), n('skipped')]).to.deep.equal([4, 1, 0, 0]);
    expect(cases.filter((c) => 'failure' in c).length).to.equal(n('failures'));
    for (const k of ['tests', 'failures', 'errors', 'skipped'])
      expect(Number(root[k]), k).to.equal(suites.reduce((s, x) => s + Number(x[k]), 0));
  });

  it('junit: a DQ task that never ran is a skipped case, one that failed before checking an error', async () => {
    const base = latest;
    const q = base.tasks.find((t) => t.task_id === 'quality')!;
    const dq = { ...q, operator: 'DataQuality', checks: [] };
    const notRun: RunReport = { ...base, tasks: [{ ...dq, state: 'upstream_failed', tries: [] }] };
    const failed: RunReport = {
      ...base,
      tasks: [{ ...dq, state: 'failed', tries: [{ ...q.tries[0]!, error: 'connection refused & <gone>' }] }],
    };
    const parse = (x: string) => {
      expect(XMLValidator.validate(x)).to.equal(true);
      return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(x) as Json;
    };
    const a = ((parse(renderJunit(notRun)).testsuites as Json).testsuite as Json).testcase as Json;
    expect(a.skipped).to.have.property('message', 'the checks did not run: task state upstream_failed');
    const b = parse(renderJunit(failed)).testsuites as Json;
    expect(((b.testsuite as Json).testcase as Json).error).to.have.property('message', 'connection refused & <gone>');
    expect(b.errors).to.equal('1');
  });

  it('escapes markup and replaces the characters XML 1.0 forbids', () => {
    const tricky = 'a\u0001b\u0008c<d>&"e\'\ud800';
    const x = renderJunit({
      ...latest,
      dag_id: tricky,
      tasks: latest.tasks.map((t) => ({ ...t, checks: t.checks.map((c) => ({ ...c, name: tricky, message: tricky })) })),
    });
    expect(XMLValidator.validate(x)).to.equal(true);
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(x) as Json;
    const suite = (doc.testsuites as Json).testsuite as Json;
    expect(suite.package).to.equal('a\ufffdb\ufffdc<d>&"e\'\ufffd');
    expect(asArray(suite.testcase)[0]!.name).to.equal('a\ufffdb\ufffdc<d>&"e\'\ufffd');
  });
});
