/**
 * DataQuality against PGlite: every check type passing and failing, with
 * its observed value and expectation recorded; warn vs error severity.
 */
import { expect } from 'chai';
import { DagFileError } from '../../../engine/errors.js';
import type { CheckResult } from '../../../operators/data-quality.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { closeRuns, exec, makeEnv, oneTask, runDag, type Env, type RunOutcome } from './support.js';

const DAY = '2018-11-21T00:00:00Z';

function checksOf(r: RunOutcome): CheckResult[] {
  return r.outputs('task').checks as CheckResult[];
}

function byName(r: RunOutcome): Record<string, CheckResult> {
  return Object.fromEntries(checksOf(r).map((c) => [c.name, c]));
}

describe('DataQuality on PGlite', function () {
  this.timeout(120_000);
  let env: Env;

  before(async () => {
    env = makeEnv((await freshPgliteUrl()).url);
    await exec(
      env,
      `CREATE TABLE dq_users (user_id varchar(8), level varchar(8));
       CREATE TABLE dq_plays (play_id int, user_id varchar(8), at timestamp);
       CREATE TABLE dq_empty (x int);
       INSERT INTO dq_users VALUES ('1', 'free'), ('2', 'paid'), ('3', 'paid');
       INSERT INTO dq_plays VALUES (1, '1', '2018-11-21 10:00'), (2, '2', '2018-11-21 11:00'), (3, '1', '2018-11-22 09:00'), (4, NULL, '2018-11-21 12:00');
       CREATE TABLE dq_bad_users (user_id varchar(8), level varchar(8));
       INSERT INTO dq_bad_users VALUES ('1', 'free'), ('1', 'paid'), (NULL, 'gold'), ('4', 'gold'), ('5', 'Free');`,
    );
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  const CHECKS_OK = `checks:
    - type: row_count
      table: dq_users
    - type: row_count
      table: dq_plays
      min: 4
      max: 4
    - type: not_null
      table: dq_users
      columns: [user_id, level]
    - type: unique
      table: dq_users
      columns: [user_id]
    - type: accepted_values
      table: dq_users
      column: level
      values: [free, paid]
    - type: relationship
      table: dq_plays
      column: user_id
      to_table: dq_users
      to_column: user_id
    - type: sql
      name: plays_of_the_day
      sql: "SELECT COUNT(*) FROM dq_plays WHERE at >= TIMESTAMP '{{ ds }}' AND at < TIMESTAMP '{{ ds }}' + INTERVAL '1 day'"
      expect: 3
    - type: sql
      name: paid_share
      sql: "SELECT AVG(CASE WHEN level = 'paid' THEN 1.0 ELSE 0 END) FROM dq_users"
      min: 0.5
      max: 0.7
    - type: sql
      name: a_string
      sql: "SELECT level FROM dq_users WHERE user_id = '1'"
      expect: free`;

  it('passes every check type and records observed values and expectations', async () => {
    const r = await runDag(env, oneTask('DataQuality', CHECKS_OK), DAY);
    expect(r.state).to.equal('success');
    expect(r.outputs('task')).to.include({ passed: 9, failed: 0, warnings: 0 });
    const c = byName(r);
    expect(Object.keys(c)).to.deep.equal([
      'row_count_dq_users',
      'row_count_dq_plays',
      'not_null_dq_users_user_id_level',
      'unique_dq_users_user_id',
      'accepted_values_dq_users_level',
      'relationship_dq_plays_user_id_dq_users_user_id',
      'plays_of_the_day',
      'paid_share',
      'a_string',
    ]);
    expect(c.row_count_dq_users).to.include({
      observed: 3,
      expected: '>= 1',
      passed: true,
      severity: 'error',
      table: 'dq_users',
    });
    expect(c.row_count_dq_plays).to.include({ observed: 4, expected: 'between 4 and 4', passed: true });
    expect(c.not_null_dq_users_user_id_level).to.include({ observed: 0, expected: '0 rows with NULL', passed: true });
    expect(c.unique_dq_users_user_id).to.include({ observed: 0, passed: true });
    expect(c.accepted_values_dq_users_level).to.include({
      observed: 0,
      expected: "0 rows outside ['free', 'paid']",
      passed: true,
    });
    // the NULL user_id of play 4 is not an orphan
    expect(c.relationship_dq_plays_user_id_dq_users_user_id).to.include({ observed: 0, passed: true });
    expect(c.plays_of_the_day).to.include({ observed: 3, expected: '= 3', passed: true });
    expect(Number(c.paid_share!.observed)).to.be.closeTo(2 / 3, 1e-9);
    expect(c.paid_share).to.include({ expected: 'between 0.5 and 0.7', passed: true });
    expect(c.a_string).to.include({ observed: 'free', expected: "= 'free'", passed: true });
  });

  it('fails every check type with what it observed; an error check fails the task after its retries', async () => {
    const dag = oneTask(
      'DataQuality',
      `checks:
        - type: row_count
          table: dq_empty
        - type: row_count
          table: dq_bad_users
          max: 2
        - type: not_null
          table: dq_bad_users
          columns: [user_id, level]
        - type: unique
          table: dq_bad_users
          columns: [user_id]
        - type: accepted_values
          table: dq_bad_users
          column: level
          values: [free, paid]
        - type: relationship
          table: dq_bad_users
          column: user_id
          to_table: dq_users
          to_column: user_id
        - type: sql
          name: wrong_value
          sql: "SELECT COUNT(*) FROM dq_users"
          expect: 4
        - type: sql
          name: out_of_range
          sql: "SELECT COUNT(*) FROM dq_users"
          min: 10
        - type: row_count
          name: missing_table
          table: dq_nope`,
      { retries: 2 },
    );
    const r = await runDag(env, dag, DAY);
    expect(r.state).to.equal('failed');
    expect(r.taskState('task')).to.equal('failed');
    const tries = r.tries('task');
    expect(tries.map((t) => t.state)).to.deep.equal(['failed', 'failed', 'failed']);
    expect(tries[2]!.error).to.match(
      /^9 of 9 data quality check\(s\) failed: row_count_dq_empty \(observed 0, expected >= 1\); /,
    );
    expect(tries[2]!.error).to.include('unique_dq_bad_users_user_id (observed 1, expected 0 duplicated keys)');
    expect(tries[2]!.error).to.match(/missing_table \(error: .*dq_nope/);
    // each try recorded its checks
    expect(await r.store.tasks.outputs(tries[0]!.tryId)).to.have.property('failed', 9);
    const c = byName(r);
    expect(c.row_count_dq_empty).to.include({ observed: 0, passed: false });
    expect(c.row_count_dq_bad_users).to.include({ observed: 5, expected: '<= 2', passed: false });
    expect(c.not_null_dq_bad_users_user_id_level).to.include({ observed: 1, passed: false });
    expect(c.not_null_dq_bad_users_user_id_level!.details).to.deep.equal({ nulls_per_column: { user_id: 1, level: 0 } });
    expect(c.unique_dq_bad_users_user_id).to.include({ observed: 1, passed: false });
    expect(c.unique_dq_bad_users_user_id!.details!.sample).to.deep.equal([{ user_id: '1', sluice_rows: 2 }]);
    expect(c.accepted_values_dq_bad_users_level).to.include({ observed: 3, passed: false });
    expect(c.accepted_values_dq_bad_users_level!.details!.unexpected_values).to.deep.equal([
      { value: 'gold', n: 2 },
      { value: 'Free', n: 1 },
    ]);
    // '4' and '5' have no user; the NULL is not counted
    expect(c.relationship_dq_bad_users_user_id_dq_users_user_id).to.include({
      observed: 2,
      expected: '0 rows without a match in dq_users.user_id',
      passed: false,
    });
    expect(c.wrong_value).to.include({ observed: 3, expected: '= 4', passed: false });
    expect(c.out_of_range).to.include({ observed: 3, expected: '>= 10', passed: false });
    expect(c.missing_table).to.include({ observed: null, passed: false });
    expect(c.missing_table!.error).to.match(/dq_nope/);
  });

  it('a failing warn check only warns: the task succeeds and the failure is recorded', async () => {
    const dag = oneTask(
      'DataQuality',
      `checks:
        - type: row_count
          table: dq_users
        - type: accepted_values
          table: dq_bad_users
          column: level
          values: [free, paid]
          severity: warn`,
      { retries: 2 },
    );
    const r = await runDag(env, dag, DAY);
    expect(r.state).to.equal('success');
    expect(r.tries('task')).to.have.length(1);
    expect(r.outputs('task')).to.include({ passed: 1, failed: 0, warnings: 1 });
    expect(byName(r).accepted_values_dq_bad_users_level).to.include({ severity: 'warn', passed: false, observed: 3 });
    const logs = await r.store.logs.list(r.tries('task')[0]!.tryId);
    expect(logs.some((l) => l.level === 'warn' && /check failed \(warn only\)/.test(l.msg))).to.equal(true);
  });

  it('an error check failing next to a warn check fails the task, naming only the error check', async () => {
    const dag = oneTask(
      'DataQuality',
      `checks:
        - type: row_count
          table: dq_empty
          severity: warn
        - type: unique
          table: dq_bad_users
          columns: [user_id]`,
    );
    const r = await runDag(env, dag, DAY);
    expect(r.state).to.equal('failed');
    expect(r.tries('task')[0]!.error).to.equal(
      '1 of 2 data quality check(s) failed: unique_dq_bad_users_user_id (observed 1, expected 0 duplicated keys)',
    );
  });

  it('binds values as parameters and quotes identifiers', async () => {
    await exec(
      env,
      `CREATE TABLE "dq_Mixed" ("Level" varchar(40)); INSERT INTO "dq_Mixed" VALUES ('it''s; DROP TABLE dq_users; --')`,
    );
    const dag = oneTask(
      'DataQuality',
      `checks:
        - type: accepted_values
          table: dq_Mixed
          column: Level
          values: ["it's; DROP TABLE dq_users; --"]`,
    );
    const r = await runDag(env, dag, DAY);
    expect(r.state).to.equal('success');
    expect(byName(r).accepted_values_dq_Mixed_Level).to.include({ observed: 0, passed: true });
  });

  it('refuses bad check definitions when the DAG file is loaded', async () => {
    const load = (checks: string) =>
      runDag(env, oneTask('DataQuality', `checks:\n${checks}`), DAY).then(
        () => null,
        (e: unknown) => e as Error,
      );
    const noExpect = await load(`  - type: sql\n    sql: SELECT 1`);
    expect(noExpect).to.be.instanceOf(DagFileError);
    expect(noExpect!.message).to.match(/a sql check needs expect \(a value\) or min\/max/);
    const badType = await load(`  - type: row_cnt\n    table: t`);
    expect(badType).to.be.instanceOf(DagFileError);
    expect(badType!.message).to.match(/checks/);
    const badIdent = await load(`  - type: row_count\n    table: "users; DROP TABLE x"`);
    expect(badIdent!.message).to.match(/must be a SQL identifier/);
    const dupName = await load(`  - type: row_count\n    table: a\n    name: n\n  - type: row_count\n    table: b\n    name: n`);
    expect(dupName!.message).to.match(/name n is already used by checks\[0\]/);
    const minMax = await load(`  - type: row_count\n    table: a\n    min: 5\n    max: 1`);
    expect(minMax!.message).to.match(/max \(1\) is smaller than min \(5\)/);
  });
});
