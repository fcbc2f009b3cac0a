/**
 * `sluice dags validate` warns about DDL Redshift changes (TEXT becomes
 * VARCHAR(256), BPCHAR CHAR(256); r_Character_types), in `.sql` files and in
 * inline SQL, with the file:line and the task; the DAG stays valid (exit 0).
 */
import { expect } from 'chai';
import { Project } from '../helpers/cli.js';

describe('CLI: dags validate warns about TEXT/BPCHAR columns Redshift renames', function () {
  this.timeout(120_000);
  let p: Project;
  before(() => {
    p = new Project();
    p.write(
      'sql/create_notes.sql',
      ['-- notes', 'CREATE TABLE IF NOT EXISTS notes (', '  id int,', '  body text', ');', ''].join('\n'),
    );
    p.write(
      'dags/notes.yaml',
      [
        'dag: notes',
        'tasks:',
        '  from_file:',
        '    operator: Sql',
        '    sql: sql/create_notes.sql',
        '  inline:',
        '    operator: Sql',
        '    sql: |',
        '      CREATE TABLE IF NOT EXISTS tags (',
        '        code bpchar,',
        '        name varchar(20)',
        '      )',
        '  one_line:',
        '    operator: Sql',
        '    sql: CREATE TABLE IF NOT EXISTS kv (k varchar(8), v TEXT)',
        '',
      ].join('\n'),
    );
    p.write(
      'dags/clean.yaml',
      ['dag: clean', 'tasks:', '  t:', '    operator: Sql', '    sql: CREATE TABLE c (v varchar(9))', ''].join('\n'),
    );
  });
  after(() => p?.remove());

  it('prints each warning under its DAG with file:line and task, and exits 0', () => {
    const r = p.run(['dags', 'validate']);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    const lines = r.stdout.split('\n');
    expect(lines).to.include.members([
      "      warning: sql/create_notes.sql:4: task from_file: column 'body' of table 'notes' is TEXT, which Redshift creates as VARCHAR(256): loads of values longer than 256 bytes that work locally will be rejected there (\"String length exceeds DDL length\"); declare the length you need (e.g. VARCHAR(65535)) to load the same everywhere",
    ]);
    expect(r.stdout).to.match(
      /warning: dags\/notes\.yaml:10: task inline: column 'code' of table 'tags' is BPCHAR, which Redshift creates as CHAR\(256\)/,
    );
    expect(r.stdout).to.match(/warning: dags\/notes\.yaml:15: task one_line: column 'v' of table 'kv' is TEXT/);
    expect(r.stdout.match(/warning:/g)).to.have.length(3);
    expect(r.stdout).to.contain('2 valid, 0 invalid');
  });

  it('lists them in --json output', () => {
    const r = p.run(['dags', 'validate', '--json']);
    expect(r.code).to.equal(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; files: { dag: string; warnings: { line: number; task: string }[] }[] };
    expect(out.ok).to.equal(true);
    const notes = out.files.find((f) => f.dag === 'notes')!;
    expect(notes.warnings.map((w) => [w.task, w.line])).to.deep.equal([
      ['from_file', 4],
      ['inline', 10],
      ['one_line', 15],
    ]);
    expect(out.files.find((f) => f.dag === 'clean')!.warnings).to.deep.equal([]);
  });
});
