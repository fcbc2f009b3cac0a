/**
 * Templates and params through the real CLI (real PGlite): typed `params`
 * validated before anything renders, `| sql_literal` keeping a hostile
 * `--conf` value a harmless string, and `sluice dags validate` reporting
 * unknown template variables with the place, the name and the known ones.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { Project, ROOT } from '../helpers/cli.js';

const INJECTION = "x'); DROP TABLE notes; --";

const NOTES = `dag: notes
description: writes one labelled row per run
params:
  label:
    type: string
    maxLength: 200
    default: none
  batch: { type: integer, minimum: 1, default: 1 }
  level: free
tasks:
  setup:
    operator: Sql
    sql: CREATE TABLE IF NOT EXISTS notes (label TEXT, batch INTEGER, level TEXT)
  write:
    operator: Sql
    upstream: [setup]
    sql: >-
      INSERT INTO notes (label, batch, level)
      VALUES ({{ params.label | sql_literal }}, {{ params.batch | sql_literal }}, {{ params.level | sql_literal }})
`;

function sqlJson(p: Project, query: string): Record<string, unknown>[] {
  const r = p.run(['sql', query, '--json']);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe('template safety through the CLI: typed params, sql_literal, validate', function () {
  this.timeout(180_000);
  let p: Project;
  before(() => {
    p = new Project();
    p.write('dags/notes.yaml', NOTES);
    p.write('dags/songplays.yaml', fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8'));
  });
  after(() => p?.remove());

  it('a hostile --conf string is stored as data, never run as SQL', () => {
    const r = p.run(['run-dag', 'notes', '--date', '2024-01-01', '--conf', JSON.stringify({ label: INJECTION, batch: 2 })]);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(sqlJson(p, 'SELECT label, batch, level FROM notes')).to.deep.equal([{ label: INJECTION, batch: 2, level: 'free' }]);
  });

  it('--conf values are validated against the params before any task runs (exit 2, param and DAG file:line named)', () => {
    const typed = p.run(['run-dag', 'notes', '--date', '2024-01-02', '--conf', '{"batch": "1); DROP TABLE notes; --"}']);
    expect(typed.code, typed.stdout + typed.stderr).to.equal(2);
    expect(typed.stderr).to.match(/dags\/notes\.yaml:8:\d+: params\.batch: .*must be an integer/);
    const small = p.run(['run-dag', 'notes', '--date', '2024-01-02', '--conf', '{"batch": 0}']);
    expect(small.code).to.equal(2);
    expect(small.stderr).to.match(/params\.batch: .*>= ?1/);
    // a plain value's type is inferred from it: level is a string
    const inferred = p.run(['run-dag', 'notes', '--date', '2024-01-02', '--conf', '{"level": ["free"]}']);
    expect(inferred.code).to.equal(2);
    expect(inferred.stderr).to.match(/params\.level: .*must be a string/);
    const unknown = p.run(['run-dag', 'notes', '--date', '2024-01-02', '--conf', '{"labl": "x"}']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("unknown param 'labl'");
    expect(unknown.stderr).to.contain("did you mean 'label'");
    // nothing was created: the only run is the first test's
    const runs = JSON.parse(p.run(['runs', 'list', '--dag', 'notes', '--json']).stdout) as unknown[];
    expect(runs).to.have.length(1);
    expect(sqlJson(p, 'SELECT COUNT(*) AS n FROM notes')).to.deep.equal([{ n: 1 }]);
  });

  it('run-dag songplays with an injection attempt in --conf fails validation and drops nothing', () => {
    const r = p.run([
      'run-dag',
      'songplays',
      '--date',
      '2018-11-21',
      '--conf',
      JSON.stringify({ table: 'songplays; DROP TABLE notes; --', interval_column: "start_time'; DROP TABLE notes; --" }),
    ]);
    expect(r.code, r.stdout + r.stderr).to.equal(2);
    expect(r.stderr).to.contain("unknown param 'table'");
    expect(r.stderr).to.contain('dags/songplays.yaml');
    expect(sqlJson(p, 'SELECT COUNT(*) AS n FROM notes')).to.deep.equal([{ n: 1 }]);
    const runs = JSON.parse(p.run(['runs', 'list', '--dag', 'songplays', '--json']).stdout) as unknown[];
    expect(runs).to.have.length(0);
  });

  it('a bad param declaration is a validation error naming the keyword', () => {
    const q = new Project();
    try {
      q.write(
        'dags/bad.yaml',
        [
          'dag: bad',
          'params:',
          '  limit: { type: integer, minimun: 1, default: 5 }',
          '  day: { type: string, format: date, default: "2018-13-01" }',
          'tasks:',
          '  a: { operator: Empty }',
          '',
        ].join('\n'),
      );
      const r = q.run(['dags', 'validate']);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.match(
        /dags\/bad\.yaml:3:\d+: params\.limit\.minimun: unknown keyword 'minimun'.*did you mean 'minimum'/,
      );
      expect(r.stdout).to.match(/dags\/bad\.yaml:4:\d+: params\.day\.default: .*date/);
    } finally {
      q.remove();
    }
  });

  it('dags validate reports unknown template variables with file:line, the name and the known variables', () => {
    const q = new Project();
    try {
      q.write('sql/report.sql', 'SELECT 1\nWHERE day = {{ ds_nodashh | sql_literal }}\n');
      q.write(
        'dags/typo.yaml',
        [
          'dag: typo', //                                               1
          'params: { limit: 5 }', //                                    2
          'tasks:', //                                                  3
          '  echo:', //                                                 4
          '    operator: Echo', //                                      5
          '    message: "day {{ logical_dat | date: \'%Y\' }}"', //      6
          '  q:', //                                                    7
          '    operator: Sql', //                                       8
          '    sql: "SELECT {{ params.limt | sql_literal }}"', //        9
          '  f:', //                                                    10
          '    operator: Sql', //                                       11
          '    sql: sql/report.sql', //                                 12
          '  ok:', //                                                   13
          '    operator: Sql', //                                       14
          '    sql: "SELECT {{ params.limit }}, {{ ds | sql_literal }}, {{ conn.lake }} {% assign x = 1 %}{{ x }}"',
          '',
        ].join('\n'),
      );
      const r = q.run(['dags', 'validate']);
      expect(r.code, r.stdout + r.stderr).to.equal(2);
      expect(r.stdout).to.match(
        /dags\/typo\.yaml:6:\d+: tasks\.echo\.message: unknown template variable 'logical_dat'; did you mean 'logical_date'\?/,
      );
      expect(r.stdout).to.contain(
        'known variables: dag_id, run_id, task_id, logical_date, ds, ds_nodash, ts, data_interval_start, data_interval_end, params, conn, dialect',
      );
      expect(r.stdout).to.match(
        /dags\/typo\.yaml:9:\d+: tasks\.q\.sql: unknown param 'limt' \(params\.limt\); did you mean 'limit'\?/,
      );
      expect(r.stdout).to.match(
        /dags\/typo\.yaml:12:\d+: tasks\.f\.sql: unknown template variable 'ds_nodashh' in sql\/report\.sql line 2/,
      );
      expect(r.stdout).not.to.match(/tasks\.ok/);
    } finally {
      q.remove();
    }
  });

  it('the shipped DAGs validate', () => {
    const r = p.run(['dags', 'validate', path.join(ROOT, 'dags')]);
    expect(r.code, r.stdout).to.equal(0);
  });
});
