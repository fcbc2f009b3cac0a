import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project, ROOT } from '../helpers/cli.js';

const FAILING = `
dag: failing
schedule: "@daily"
start_date: 2024-01-01
tasks:
  ok: { operator: Succeed }
  broken: { operator: Fail, upstream: [ok], retries: 1, retry_delay: 0s, message: "cannot reach postgres://etl:topsecret@db/x" }
  after: { operator: Succeed, upstream: [broken] }
`;

const SLOW = `
dag: slow
schedule: "@daily"
start_date: 2024-01-01
tasks:
  first: { operator: Succeed }
  hang: { operator: Sleep, upstream: [first], marker: started.txt, retries: 2, retry_delay: 0s }
  after: { operator: Succeed, upstream: [hang] }
`;

function stateDb(p: Project): Database.Database {
  return new Database(path.join(p.dir, '.sluice', 'state.db'), { readonly: true });
}

describe('CLI end to end (spawned processes)', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
    p.write('dags/example.yaml', fs.readFileSync(path.join(ROOT, 'dags', 'example.yaml'), 'utf8'));
  });
  afterEach(() => p.remove());

  it('run-dag runs a DAG for a date, prints progress and a summary, and keeps state in .sluice/state.db', () => {
    const r = p.run(['--date', '2024-03-05', 'example'], { bin: 'run-dag' });
    expect(r.stderr).to.equal('');
    expect(r.code).to.equal(0);
    expect(r.stdout).to.contain(
      'run example__manual__2024-03-05T00:00:00Z: data interval [2024-03-05T00:00:00Z, 2024-03-06T00:00:00Z)',
    );
    expect(r.stdout).to.match(/extract_events running \(try 1\)/);
    expect(r.stdout).to.match(/^task\s+state\s+tries\s+duration/m);
    expect(r.stdout).to.match(/^transform\s+success\s+1\s/m);
    expect(r.stdout).to.contain('run example__manual__2024-03-05T00:00:00Z success');
    const db = stateDb(p);
    const tries = db.prepare('SELECT task_id, state FROM task_tries').all();
    expect(tries).to.have.length(7);
    db.close();

    const again = p.run(['run-dag', 'example', '--date', '2024-03-05']);
    expect(again.code).to.equal(2);
    expect(again.stderr).to.contain('DAG example already has a run for 2024-03-05T00:00:00Z');
    expect(again.stderr).to.contain('--rerun');

    const rerun = p.run(['run-dag', 'example', '--date', '2024-03-05', '--rerun', '--json']);
    expect(rerun.code).to.equal(0);
    const summary = JSON.parse(rerun.stdout);
    expect(summary.state).to.equal('success');
    expect(summary.tasks.map((t: { tries: number }) => t.tries)).to.deep.equal([2, 2, 2, 2, 2, 2, 2]);
  });

  it('without --date runs the last complete data interval', () => {
    const r = p.run(['run-dag', 'example', '--json']);
    expect(r.code).to.equal(0);
    const s = JSON.parse(r.stdout);
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    expect(s.data_interval).to.deep.equal([
      new Date(today.getTime() - 86_400_000).toISOString().replace('.000Z', 'Z'),
      today.toISOString().replace('.000Z', 'Z'),
    ]);
  });

  it('a failing run exits 1; logs, tasks list and runs list show why; --rerun --failed-only reruns only the failed part', () => {
    p.write('dags/failing.yaml', FAILING);
    const r = p.run(['run-dag', 'failing', '--date', '2024-01-01']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.match(/^broken\s+failed\s+2\s/m);
    expect(r.stdout).to.match(/^after\s+upstream_failed\s+0/m);
    expect(r.stdout).to.contain('cannot reach postgres://etl:***@db/x (try 2)');
    expect(r.stdout + r.stderr).to.not.contain('topsecret');

    const runId = 'failing__manual__2024-01-01T00:00:00Z';
    const logs = p.run(['logs', runId, 'broken', '--try', '1']);
    expect(logs.code).to.equal(0);
    expect(logs.stdout).to.contain(`# ${runId} broken try 1 of 2: failed`);
    expect(logs.stdout).to.match(/WARN\s+about to fail tryNumber=1/);
    expect(logs.stdout).to.contain('# error: cannot reach postgres://etl:***@db/x (try 1)');
    const logsJson = p.run(['logs', runId, 'broken', '--json']);
    expect(JSON.parse(logsJson.stdout).try.try_number).to.equal(2);

    const tasks = p.run(['tasks', 'list', runId]);
    expect(tasks.stdout).to.match(/^broken\s+Fail\s+failed\s+2\/2/m);
    const runs = p.run(['runs', 'list', '--state', 'failed', '--json']);
    expect(JSON.parse(runs.stdout).map((x: { run_id: string }) => x.run_id)).to.deep.equal([runId]);

    const db = stateDb(p);
    const dump =
      JSON.stringify(db.prepare('SELECT * FROM task_tries').all()) + JSON.stringify(db.prepare('SELECT * FROM log_lines').all());
    db.close();
    expect(dump).to.not.contain('topsecret');

    const rerun = p.run(['run-dag', 'failing', '--date', '2024-01-01', '--rerun', '--failed-only', '--json']);
    expect(rerun.code).to.equal(1);
    const s = JSON.parse(rerun.stdout);
    const ok = s.tasks.find((t: { task_id: string }) => t.task_id === 'ok');
    expect(ok.tries).to.equal(1); // not rerun
    expect(s.tasks.find((t: { task_id: string }) => t.task_id === 'broken').tries).to.equal(4);
  });

  it('SIGINT aborts running tries, records them failed with the reason, and leaves nothing running', async () => {
    p.write('dags/slow.yaml', SLOW);
    const child = p.start(['run-dag', 'slow', '--date', '2024-01-01']);
    await p.waitForFile('started.txt');
    child.kill('SIGINT');
    const code = await child.done;
    expect(code).to.equal(130);
    expect(child.output().stderr).to.contain('SIGINT received: aborting running tasks');
    const db = stateDb(p);
    const tries = db.prepare("SELECT task_id, state, error FROM task_tries WHERE task_id = 'hang'").all();
    expect(tries).to.deep.equal([{ task_id: 'hang', state: 'failed', error: 'interrupted: SIGINT received' }]);
    const stuck = db.prepare("SELECT count(*) n FROM task_instances WHERE state IN ('running', 'queued', 'scheduled')").get();
    expect(stuck).to.deep.equal({ n: 0 });
    const run = db.prepare('SELECT state, note FROM dag_runs').get();
    expect(run).to.deep.equal({ state: 'failed', note: 'interrupted: SIGINT received' });
    db.close();
  });

  it('a process killed mid-try is found and reported by the next command', async () => {
    p.write('dags/slow.yaml', SLOW);
    const child = p.start(['run-dag', 'slow', '--date', '2024-01-01']);
    await p.waitForFile('started.txt');
    const pid = Number(fs.readFileSync(path.join(p.dir, 'started.txt'), 'utf8'));
    child.kill('SIGKILL');
    await child.done;
    const r = p.run(['runs', 'list']);
    expect(r.code).to.equal(0);
    expect(r.stderr).to.contain(
      `slow__manual__2024-01-01T00:00:00Z task hang try 1 was left running by process ${pid}, which died; marked failed (it will be retried)`,
    );
    expect(r.stdout).to.match(/slow__manual__2024-01-01T00:00:00Z\s+slow\s+queued/);
    const tasks = p.run(['tasks', 'list', 'slow__manual__2024-01-01T00:00:00Z', '--json']);
    const t = JSON.parse(tasks.stdout);
    expect(t.tries.find((x: { task_id: string }) => x.task_id === 'hang').error).to.match(/^process died: pid \d+/);
    expect(t.task_instances.find((x: { task_id: string }) => x.task_id === 'hang').state).to.equal('up_for_retry');
    // Reported once only.
    expect(p.run(['runs', 'list']).stderr).to.equal('');
  });

  it('dags validate reports every file, with file:line, and exits 2 if any is bad', () => {
    p.write('dags/bad.yaml', 'dag: bad\ntasks:\n  a:\n    operator: Emtpy\n');
    p.write(
      'dags/cyclic.yaml',
      'dag: cyclic\ntasks:\n  a: { operator: Empty, upstream: [b] }\n  b: { operator: Empty, upstream: [a] }\n',
    );
    const r = p.run(['dags', 'validate']);
    expect(r.code).to.equal(2);
    expect(r.stdout).to.contain('ok    dags/example.yaml  (dag example, 7 tasks)');
    expect(r.stdout).to.match(
      /FAIL  dags\/bad\.yaml\n\s+.*dags\/bad\.yaml:4:\d+: .*unknown operator 'Emtpy'; did you mean 'Empty'\?/,
    );
    expect(r.stdout).to.match(/cyclic\.yaml:\d+:\d+: .*a -> b -> a|b -> a -> b/);
    expect(r.stdout).to.contain('1 valid, 2 invalid');
    const one = p.run(['dags', 'validate', 'dags/example.yaml', '--json']);
    expect(one.code).to.equal(0);
    expect(JSON.parse(one.stdout).ok).to.equal(true);
    // The good DAG still runs although a file beside it is broken.
    expect(p.run(['run-dag', 'example', '--date', '2024-01-01']).code).to.equal(0);
    const bad = p.run(['run-dag', 'bad']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.contain("unknown operator 'Emtpy'");
  });

  it('dags list, show (text, mermaid, dot) and schema', () => {
    const list = p.run(['dags', 'list']);
    expect(list.code).to.equal(0);
    expect(list.stdout).to.match(/^example\s+@daily\s+7\s+dags\/example\.yaml/m);
    const mermaid = p.run(['dags', 'show', 'example', '--format', 'mermaid']);
    expect(mermaid.stdout).to.contain('flowchart LR');
    expect(mermaid.stdout).to.contain('n1["extract_events').and.contain('n1 --> n3');
    const dot = p.run(['dags', 'show', 'example', '--format', 'dot']);
    expect(dot.stdout).to.contain('digraph');
    const text = p.run(['dags', 'show', 'example']);
    expect(text.stdout).to.contain('transform');
    const schema = JSON.parse(p.run(['dags', 'schema']).stdout);
    expect(JSON.stringify(schema)).to.contain('Empty').and.contain('Sleep');
  });

  it('usage errors exit 2 with a clear message; every verb has --help with examples', () => {
    const unknown = p.run(['run-dag', 'exmaple']);
    expect(unknown.code).to.equal(2);
    expect(unknown.stderr).to.contain("no DAG 'exmaple'");
    expect(unknown.stderr).to.contain("did you mean 'example'?");
    const conf = p.run(['run-dag', 'example', '--conf', '{nope']);
    expect(conf.code).to.equal(2);
    expect(conf.stderr).to.contain('--conf must be a JSON object');
    const date = p.run(['run-dag', 'example', '--date', 'yesterday']);
    expect(date.code).to.equal(2);
    expect(date.stderr).to.contain("--date 'yesterday' is not a date");
    expect(p.run(['run-dag']).code).to.equal(2);
    expect(p.run(['no-such-verb']).code).to.equal(2);
    for (const verb of [
      ['run-dag'],
      ['dags', 'list'],
      ['dags', 'show'],
      ['dags', 'validate'],
      ['dags', 'schema'],
      ['runs', 'list'],
      ['tasks', 'list'],
      ['logs'],
    ]) {
      const h = p.run([...verb, '--help']);
      expect(h.code, verb.join(' ')).to.equal(0);
      expect(h.stdout, verb.join(' ')).to.contain('Examples:');
    }
    const missingRun = p.run(['tasks', 'list', 'nope']);
    expect(missingRun.code).to.equal(2); // an unknown name is a usage error, as for an unknown DAG;
    expect(missingRun.stderr).to.contain("no run 'nope'");
  });
});
