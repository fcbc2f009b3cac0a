/**
 * The newer DataQuality check types (freshness, row_count_change, schema,
 * expression, sql tolerance) on PGlite and on a PostgreSQL server, with bad
 * data: a day with half the rows, a NULL in a key, a renamed column. History
 * runs through the real runner, several runs in one state store, and what a
 * try stored is read back through the QualityStore.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { DagFileError } from '../../../engine/errors.js';
import type { CheckResult } from '../../../operators/data-quality.js';
import { defaultRegistry } from '../../../operators/index.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { usePostgres } from '../../helpers/postgres.js';
import { PROJECT_ROOT, closeRuns, exec, makeEnv, oneTask, runDag, type Env, type RunOutcome } from './support.js';

const DAY = '2018-11-21T00:00:00Z';

function byName(r: RunOutcome): Record<string, CheckResult> {
  return Object.fromEntries((r.outputs('task').checks as CheckResult[]).map((c) => [c.name, c]));
}

const TABLES = `
  CREATE TABLE dqc_users (user_id int, first_name varchar(256), level varchar(10), created timestamp);
  INSERT INTO dqc_users VALUES (1, 'Ann', 'free', '2018-11-20 08:00'), (2, 'Bob', 'paid', '2018-11-21 22:30');
  CREATE TABLE dqc_users_renamed (user_id int, first_name varchar(256), user_level varchar(10), created timestamp);
  CREATE TABLE dqc_plays (play_id int, at timestamp, level varchar(10), session_id int);
  INSERT INTO dqc_plays VALUES (1, '2018-11-21 01:00', 'free', 10), (2, '2018-11-21 02:00', 'paid', 11),
    (3, '2018-11-21 03:00', 'gold', NULL), (4, '2018-11-21 04:00', 'paid', NULL), (5, '2018-11-22 05:00', 'free', 12);
  CREATE TABLE dqc_empty (at timestamp);
`;

function describeChecks(label: string, url: () => Promise<string>): void {
  describe(`DataQuality check types on ${label}`, function () {
    this.timeout(120_000);
    let env: Env;
    before(async () => {
      env = makeEnv(await url());
      await exec(env, TABLES);
    });
    after(async () => {
      closeRuns();
      await env?.close();
    });

    it('freshness: passes within max_age of the interval end, fails when older, when empty, and relative to now', async () => {
      const r = await runDag(
        env,
        oneTask(
          'DataQuality',
          `checks:
            - { name: fresh, type: freshness, table: dqc_users, column: created, max_age: 2h }
            - { name: stale, type: freshness, table: dqc_users, column: created, max_age: 1h, severity: warn }
            - { name: in_interval, type: freshness, table: dqc_users, column: created, max_age: 1h, severity: warn, where: "created < TIMESTAMP '2018-11-21 00:00'" }
            - { name: empty, type: freshness, table: dqc_empty, column: at, max_age: 1d, severity: warn }
            - { name: now, type: freshness, table: dqc_users, column: created, max_age: 1d, relative_to: now, severity: warn }`,
        ),
        DAY,
      );
      expect(r.state).to.equal('success');
      const c = byName(r);
      expect(c.fresh).to.include({
        passed: true,
        observed: '2018-11-21T22:30:00.000Z',
        expected: 'newest created at most 2h old at the data interval end',
        message: 'newest created is 1h30m old',
      });
      expect(c.fresh!.details).to.deep.include({ age_seconds: 5400, reference: '2018-11-22T00:00:00.000Z' });
      expect(c.stale).to.include({ passed: false, severity: 'warn', observed: '2018-11-21T22:30:00.000Z' });
      expect(c.in_interval).to.include({ passed: false, observed: '2018-11-20T08:00:00.000Z' });
      expect(c.empty).to.include({ passed: false, observed: null, message: 'no row has a value in at' });
      expect(c.now).to.include({ passed: false });
      expect(c.now!.details!.age_seconds as number).to.be.greaterThan(86_400 * 365);
      for (const k of Object.values(c)) expect(k.duration_ms).to.be.a('number').and.at.least(0);
      // the store holds the same results, with their status
      const stored = await r.store.quality.forRun(r.runId);
      expect(stored.map((s) => [s.name, s.type, s.table, s.status])).to.deep.equal([
        ['fresh', 'freshness', 'dqc_users', 'pass'],
        ['stale', 'freshness', 'dqc_users', 'warn'],
        ['in_interval', 'freshness', 'dqc_users', 'warn'],
        ['empty', 'freshness', 'dqc_empty', 'warn'],
        ['now', 'freshness', 'dqc_users', 'warn'],
      ]);
      expect(stored[0]!.durationMs).to.be.a('number');
    });

    it('schema: passes on the expected columns; reports a renamed column, a type change and extra columns', async () => {
      const r = await runDag(
        env,
        oneTask(
          'DataQuality',
          `checks:
            - name: ok
              type: schema
              table: dqc_users
              columns: { user_id: int4, first_name: varchar(256), level: character varying, created: timestamp without time zone }
              no_other_columns: true
            - name: renamed
              type: schema
              table: dqc_users_renamed
              columns: { user_id: integer, first_name: varchar(255), level: varchar }
              no_other_columns: true
            - name: missing_table
              type: schema
              table: dqc_nope
              columns: { a: null }`,
        ),
        DAY,
      );
      expect(r.state).to.equal('failed');
      const c = byName(r);
      expect(c.ok).to.include({ passed: true, observed: 0 });
      expect(c.renamed).to.include({ passed: false, observed: 4 });
      expect(c.renamed!.sample).to.deep.equal([
        { column: 'first_name', problem: 'type', expected: 'varchar(255)', found: 'varchar(256)' },
        { column: 'level', problem: 'missing', expected: 'varchar', found: null },
        { column: 'user_level', problem: 'unexpected', expected: null, found: 'varchar(10)' },
        { column: 'created', problem: 'unexpected', expected: null, found: 'timestamp' },
      ]);
      expect(c.renamed!.message).to.equal(
        'schema drift: first_name is varchar(256), expected varchar(255); level is missing; ' +
          'user_level (varchar(10)) is not expected; created (timestamp) is not expected',
      );
      expect(c.missing_table).to.include({
        passed: false,
        observed: 1,
        message: 'table dqc_nope not found in the current schema',
      });
      const stored = await r.store.quality.forRun(r.runId);
      expect(stored.find((s) => s.name === 'renamed')).to.deep.include({
        status: 'fail',
        observed: 4,
        sample: c.renamed!.sample,
      });
    });

    it('expression: every row must hold it (NULL does not); failing rows counted, 5 kept; where narrows', async () => {
      const r = await runDag(
        env,
        oneTask(
          'DataQuality',
          `checks:
            - { name: levels_ok, type: expression, table: dqc_plays, expression: "level IN ('free', 'paid') OR play_id = 3" }
            - { name: levels, type: expression, table: dqc_plays, expression: "level IN ('free', 'paid')", severity: warn }
            - { name: sessions, type: expression, table: dqc_plays, expression: session_id IS NOT NULL }
            - name: sessions_next_day
              type: expression
              table: dqc_plays
              expression: session_id IS NOT NULL
              where: at >= {{ data_interval_end | sql_literal }}
            - { name: nulls_fail, type: expression, table: dqc_plays, expression: session_id > 0, severity: warn }`,
        ),
        DAY,
      );
      expect(r.state).to.equal('failed');
      expect(r.tries('task')[0]!.error).to.match(
        /^1 of 5 data quality check\(s\) failed: sessions \(observed 2, expected 0 rows where session_id IS NOT NULL does not hold\)$/,
      );
      const c = byName(r);
      expect(c.levels_ok).to.include({ passed: true, observed: 0 });
      expect(c.levels).to.include({ passed: false, observed: 1, severity: 'warn' });
      expect(c.levels!.sample).to.deep.equal([{ play_id: 3, at: '2018-11-21T03:00:00.000Z', level: 'gold', session_id: null }]);
      expect(c.sessions).to.include({ passed: false, observed: 2 });
      expect(c.sessions!.sample!.map((s) => s.play_id)).to.have.members([3, 4]);
      expect(c.sessions_next_day).to.include({ passed: true, observed: 0 });
      expect(c.nulls_fail).to.include({ passed: false, observed: 2 });
      const stored = await r.store.quality.forRun(r.runId);
      expect(stored.map((s) => [s.name, s.status])).to.deep.equal([
        ['levels_ok', 'pass'],
        ['levels', 'warn'],
        ['sessions', 'fail'],
        ['sessions_next_day', 'pass'],
        ['nulls_fail', 'warn'],
      ]);
      expect(stored[1]!.sample).to.deep.equal(c.levels!.sample);
    });

    it('expression refuses a second statement', async () => {
      const r = await runDag(
        env,
        oneTask('DataQuality', `checks:\n  - { type: expression, table: dqc_plays, expression: "true; DROP TABLE dqc_plays" }`),
        DAY,
      );
      expect(r.state).to.equal('failed');
      expect(r.tries('task')[0]!.error).to.match(/expression must be one SQL condition/);
      expect((await r.store.quality.forRun(r.runId))[0]).to.deep.include({ status: 'error', observed: null });
    });

    it('sql: expect and min/max with a tolerance', async () => {
      const r = await runDag(
        env,
        oneTask(
          'DataQuality',
          `checks:
            - { name: near, type: sql, sql: "SELECT 97", expect: 100, tolerance: 0.05 }
            - { name: far, type: sql, sql: "SELECT 90", expect: 100, tolerance: 0.05, severity: warn }
            - { name: widened, type: sql, sql: "SELECT 104", min: 10, max: 100, tolerance: 0.05 }
            - { name: below, type: sql, sql: "SELECT 9", min: 10, max: 100, tolerance: 0.05, severity: warn }`,
        ),
        DAY,
      );
      expect(r.state).to.equal('success');
      const c = byName(r);
      expect(c.near).to.include({ passed: true, expected: '= 100 ± 5%' });
      expect(c.far).to.include({ passed: false, observed: 90 });
      expect(c.widened).to.include({ passed: true, expected: 'between 10 and 100 ± 5%' });
      expect(c.below).to.include({ passed: false });
    });
  });
}

describeChecks('PGlite', async () => (await freshPgliteUrl()).url);

describe('on PostgreSQL', () => {
  const pg = usePostgres('dq_checks');
  describeChecks('PostgreSQL', async () => pg.url);
});

describe('DataQuality history through the runner (row_count_change)', function () {
  this.timeout(180_000);
  let env: Env;
  let h: Harness;
  /** Plays per day: the 21st has about half the usual rows. */
  const PER_DAY: Record<number, number> = { 17: 11, 18: 10, 19: 12, 20: 11, 21: 5, 22: 11 };

  before(async () => {
    env = makeEnv((await freshPgliteUrl()).url);
    const values = Object.entries(PER_DAY).flatMap(([d, n]) =>
      Array.from({ length: n }, (_, i) => `(${Number(d) * 100 + i}, '2018-11-${d} ${String(i).padStart(2, '0')}:00', 'free', 1)`),
    );
    await exec(
      env,
      `CREATE TABLE src_plays (play_id int, at timestamp, level varchar(10), session_id int);
       CREATE TABLE fact_plays (play_id int, at timestamp, level varchar(10), session_id int);
       INSERT INTO src_plays VALUES ${values.join(', ')};`,
    );
    h = harness({ connections: env.connections, projectRoot: PROJECT_ROOT, registry: defaultRegistry() });
  });
  after(async () => {
    await h?.close();
    await env?.close();
  });

  const DAG = `
dag: dq_history
default_args: { retries: 0 }
tasks:
  load:
    operator: LoadFact
    table: fact_plays
    sql: >-
      SELECT play_id, at, level, session_id FROM src_plays
      WHERE at >= {{ data_interval_start | sql_literal }} AND at < {{ data_interval_end | sql_literal }}
    mode: replace-interval
    interval_column: at
  quality:
    operator: DataQuality
    upstream: [load]
    checks:
      - name: day_rows
        type: row_count_change
        table: fact_plays
        where: at >= {{ data_interval_start | sql_literal }} AND at < {{ data_interval_end | sql_literal }}
        max_drop: 0.3
        max_growth: 0.5
        window: 3
        severity: warn
      - name: day_rows_z
        type: row_count_change
        table: fact_plays
        where: at >= {{ data_interval_start | sql_literal }} AND at < {{ data_interval_end | sql_literal }}
        z_score: 3
        window: 5
        severity: warn
`;
  const at = (d: number) => new Date(Date.UTC(2018, 10, d));
  const run = async (d: number) => {
    const { runId, state } = await h.run(h.dag(DAG), { logicalDate: at(d) });
    expect(state).to.equal('success');
    const checks = await h.store.quality.forRun(runId);
    return Object.fromEntries(checks.map((c) => [c.name, c]));
  };

  it('passes with a note until there is history, then warns on a day with half the rows', async () => {
    const first = await run(17);
    expect(first.day_rows).to.deep.include({ status: 'pass', observed: 11, type: 'row_count_change', table: 'fact_plays' });
    expect(first.day_rows!.message).to.equal('not compared yet: 0 earlier successful run(s) recorded this check, 1 needed');
    expect(first.day_rows_z!.message).to.equal('not compared yet: 0 earlier successful run(s) recorded this check, 3 needed');

    const second = await run(18);
    expect(second.day_rows).to.deep.include({ status: 'pass', observed: 10, message: '10 rows vs a mean of 11 over 1 run(s)' });
    expect(second.day_rows_z!.message).to.match(/^not compared yet: 1 earlier/);
    await run(19);
    await run(20);

    const half = await run(21);
    expect(half.day_rows).to.deep.include({ status: 'warn', observed: 5, severity: 'warn' });
    // window 3: the 18th, 19th and 20th (10, 12, 11)
    expect(half.day_rows!.message).to.equal('5 rows vs a mean of 11 over 3 run(s): dropped 54.5% (at most 30%)');
    expect(half.day_rows_z!.status).to.equal('warn');
    // window 5 holds the four earlier days (11, 10, 12, 11): standard deviation 0.71
    expect(half.day_rows_z!.message).to.equal('5 rows vs a mean of 11 over 4 run(s): z-score -8.49 (at most 3)');

    // the half day is a successful run (warn only), so it counts as history for the next one
    const next = await run(22);
    expect(next.day_rows).to.deep.include({ status: 'pass', observed: 11 });
    expect(next.day_rows!.message).to.equal('11 rows vs a mean of 9.3333 over 3 run(s)');

    // the check's series and the load's row counts, newest first
    const history = await h.store.quality.checkHistory('dq_history', { last: 10, check: 'day_rows' });
    expect(history.map((c) => [c.logicalDate.getUTCDate(), c.observed, c.status])).to.deep.equal([
      [22, 11, 'pass'],
      [21, 5, 'warn'],
      [20, 11, 'pass'],
      [19, 12, 'pass'],
      [18, 10, 'pass'],
      [17, 11, 'pass'],
    ]);
    const counts = await h.store.quality.tableCounts('dq_history', 'fact_plays', { last: 3 });
    expect(counts.map((c) => [c.logicalDate.getUTCDate(), c.rows, c.taskId])).to.deep.equal([
      [22, 11, 'load'],
      [21, 5, 'load'],
      [20, 11, 'load'],
    ]);
  });

  it('a try whose history cannot be stored still succeeds, with a warning in its log', async () => {
    const raw = new Database(path.join(h.dir, 'state.db'));
    raw.exec('ALTER TABLE check_results RENAME TO check_results_away');
    try {
      const { runId, state } = await h.run(h.dag(DAG), { logicalDate: at(23) });
      expect(state).to.equal('success');
      const t = (await h.store.tasks.tries(runId, 'quality'))[0]!;
      expect(t.state).to.equal('success');
      const lines = await h.store.logs.list(t.tryId);
      expect(lines.some((l) => l.level === 'warn' && /could not store the data quality history/.test(l.msg))).to.equal(true);
    } finally {
      raw.exec('ALTER TABLE check_results_away RENAME TO check_results');
      raw.close();
    }
  });

  it('refuses a row_count_change without a limit when the DAG file is loaded', () => {
    expect(() => h.dag(oneTask('DataQuality', `checks:\n  - { type: row_count_change, table: fact_plays }`))).to.throw(
      DagFileError,
      /needs max_drop, max_growth or z_score/,
    );
  });
});
