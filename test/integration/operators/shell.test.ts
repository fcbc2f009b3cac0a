/**
 * The Shell operator running real processes through the real runner: output
 * streamed into the try's log, the last line or a JSON line as outputs,
 * failures with stderr, exit_code_skip, and aborts that leave no process
 * behind (checked in the process table by pid).
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { harness } from '../../helpers/engine.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { closeRuns, makeEnv, oneTask, PROJECT_ROOT, runDag, type Env, type RunOutcome } from './support.js';

const DAY = '2024-01-01T00:00:00Z';

/** Whether a pid is a live process (a zombie, dead but not yet reaped, is not). */
function alive(pid: number): boolean {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/**
 * Waits until none of the pids is alive, for at most `graceMs` (the time the
 * operator gives a process between SIGTERM and SIGKILL) plus two seconds;
 * returns those still alive.
 */
async function survivors(pids: number[], graceMs: number): Promise<number[]> {
  const until = Date.now() + graceMs + 2_000;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  return pids.filter(alive);
}

function readPid(file: string): number {
  return Number(fs.readFileSync(file, 'utf8').trim());
}

async function logLines(r: RunOutcome, taskId = 'task'): Promise<{ msg: string; data: Record<string, unknown> | null }[]> {
  const t = r.tries(taskId).at(-1)!;
  return r.store.logs.list(t.tryId);
}

describe('Shell', function () {
  this.timeout(60_000);
  let env: Env;
  let dir: string;

  before(() => {
    env = makeEnv('pglite://memory');
  });
  beforeEach(() => {
    dir = makeTempDir('sluice-shell');
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  it('runs a command string with /bin/sh, logs stdout and stderr lines and records the last line', async () => {
    const r = await runDag(env, oneTask('Shell', `command: "echo one; echo two >&2; echo three"`), DAY);
    expect(r.state).to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ return_value: 'three' });
    const lines = await logLines(r);
    // Two pipes: the order within each stream is kept, not the interleaving between them.
    const of = (stream: string) => lines.filter((l) => l.data?.stream === stream).map((l) => l.msg);
    expect(of('stdout')).to.deep.equal(['one', 'three']);
    expect(of('stderr')).to.deep.equal(['two']);
  });

  it('runs an argv list without a shell, with templated arguments', async () => {
    const r = await runDag(env, oneTask('Shell', `command: [printf, "%s|%s\\n", "{{ ds }}", "a b; echo not run"]`), DAY);
    expect(r.state).to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ return_value: '2024-01-01|a b; echo not run' });
  });

  it('passes templated env (connection URLs without secrets) and the SLUICE_* context variables', async () => {
    const r = await runDag(
      env,
      oneTask(
        'Shell',
        `
        command: 'echo "$LAKE $SLUICE_TASK_ID $SLUICE_DATA_INTERVAL_END $DAY"'
        env:
          LAKE: "{{ conn.lake }}"
          DAY: "{{ ds_nodash }}"`,
      ),
      DAY,
    );
    expect(r.state).to.equal('success');
    const lake = new URL(`file://${env.lake}`).href;
    expect(r.outputs('task').return_value).to.equal(`${lake} task 2024-01-02T00:00:00.000Z 20240101`);
  });

  it('append_env: false gives the command only env, the SLUICE_* variables and PATH', async () => {
    process.env.SLUICE_TEST_INHERITED = 'inherited';
    try {
      const r = await runDag(
        env,
        oneTask(
          'Shell',
          `
          command: 'echo "[$SLUICE_TEST_INHERITED][$MINE]"'
          append_env: false
          env: { MINE: mine }`,
        ),
        DAY,
      );
      expect(r.outputs('task').return_value).to.equal('[][mine]');
      const inherited = await runDag(env, oneTask('Shell', `command: 'echo "[$SLUICE_TEST_INHERITED]"'`), DAY);
      expect(inherited.outputs('task').return_value).to.equal('[inherited]');
    } finally {
      delete process.env.SLUICE_TEST_INHERITED;
    }
  });

  it('runs in cwd (relative to the project root, or absolute)', async () => {
    fs.writeFileSync(path.join(dir, 'here.txt'), 'x');
    const r = await runDag(env, oneTask('Shell', `command: "ls"\ncwd: ${JSON.stringify(dir)}`), DAY);
    expect(r.outputs('task').return_value).to.equal('here.txt');
    const missing = await runDag(
      env,
      oneTask('Shell', `command: "ls"\ncwd: ${JSON.stringify(path.join(dir, 'nope'))}`, { retries: 2 }),
      DAY,
    );
    expect(missing.taskState('task')).to.equal('failed');
    expect(missing.tries('task')).to.have.length(1);
    expect(missing.tries('task')[0]!.error).to.match(/not retried.*cwd .*nope is not a folder/);
  });

  it('output: json records the keys of the last JSON object line', async () => {
    const r = await runDag(
      env,
      oneTask(
        'Shell',
        `command: "echo '{\\"rows\\": 1}'; echo '{\\"rows\\": 42, \\"file\\": \\"a.json\\"}'; echo done"\noutput: json`,
      ),
      DAY,
    );
    expect(r.state).to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ rows: 42, file: 'a.json' });
    const none = await runDag(env, oneTask('Shell', `command: "echo plain"\noutput: json`), DAY);
    expect(none.taskState('task')).to.equal('failed');
    expect(none.tries('task')[0]!.error).to.match(/printed no JSON object line/);
  });

  it('fails on a non-zero exit with the code and the last lines of stderr', async () => {
    const r = await runDag(
      env,
      oneTask('Shell', `command: "echo working; for i in $(seq 1 30); do echo err$i >&2; done; exit 3"`),
      DAY,
    );
    expect(r.state).to.equal('failed');
    const error = r.tries('task')[0]!.error!;
    expect(error).to.match(/exited with code 3; last lines of stderr:\nerr11\n/);
    expect(error).to.match(/err30$/);
    expect(error).not.to.match(/err10\n/);
  });

  it('fails naming a program that does not exist (argv form), without retrying', async () => {
    const r = await runDag(env, oneTask('Shell', `command: [no-such-program-sluice, x]`, { retries: 3 }), DAY);
    expect(r.taskState('task')).to.equal('failed');
    expect(r.tries('task')).to.have.length(1);
    expect(r.tries('task')[0]!.error).to.match(/command not found: no-such-program-sluice/);
  });

  it('exit_code_skip marks the task skipped, and all_success downstream tasks are skipped too', async () => {
    const yaml = [
      'dag: skip_me',
      'tasks:',
      '  check:',
      '    operator: Shell',
      '    command: "echo nothing to do; exit 42"',
      '    exit_code_skip: 42',
      '  load: { operator: Empty, upstream: [check] }',
    ].join('\n');
    const r = await runDag(env, yaml, DAY);
    expect(r.taskState('check')).to.equal('skipped');
    expect(r.taskState('load')).to.equal('skipped');
    expect(r.state).to.equal('success');
    // 99 is the default, as Airflow's skip_on_exit_code
    const byDefault = await runDag(env, oneTask('Shell', `command: "exit 99"`), DAY);
    expect(byDefault.taskState('task')).to.equal('skipped');
    const off = await runDag(env, oneTask('Shell', `command: "exit 99"\nexit_code_skip: null`), DAY);
    expect(off.taskState('task')).to.equal('failed');
  });

  it('streams output lines into the log while the command runs', async () => {
    const release = path.join(dir, 'release');
    const h = harness({ connections: env.connections, projectRoot: PROJECT_ROOT });
    try {
      const dag = h.dag(oneTask('Shell', `command: "echo first; while [ ! -f ${release} ]; do sleep 0.05; done; echo second"`));
      const done = h.run(dag, { logicalDate: new Date(DAY) });
      // The command waits for the release file, written only once "first" is in the state DB's log (try 1).
      let seen = false;
      const until = Date.now() + 30_000;
      while (!seen && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 25));
        seen = (await h.store.logs.list(1)).some((l) => l.msg === 'first');
      }
      fs.writeFileSync(release, '');
      const { runId, state } = await done;
      expect(seen, '"first" was in the log before the command ended').to.equal(true);
      expect(state).to.equal('success');
      const outputs = await h.store.tasks.latestOutputs(runId);
      expect(outputs.get('task')!.outputs).to.deep.equal({ return_value: 'second' });
    } finally {
      await h.close();
    }
  });

  it('execution_timeout kills the whole process group: the shell and its children', async () => {
    const shPid = path.join(dir, 'sh.pid');
    const childPid = path.join(dir, 'child.pid');
    const grandPid = path.join(dir, 'grand.pid');
    const yaml = [
      'dag: hang',
      'tasks:',
      '  task:',
      '    operator: Shell',
      '    execution_timeout: 1s',
      '    kill_grace: 1s',
      `    command: "echo $$ > ${shPid}; sleep 300 & echo $! > ${childPid}; ` +
        `sh -c 'sleep 300 & echo $! > ${grandPid}; wait' & sleep 300"`,
    ].join('\n');
    const r = await runDag(env, yaml, DAY);
    expect(r.state).to.equal('failed');
    expect(r.tries('task')[0]!.error).to.match(/execution_timeout of 1s exceeded/);
    const pids = [readPid(shPid), readPid(childPid), readPid(grandPid)];
    expect(await survivors(pids, 1_000)).to.deep.equal([]);
  });

  it('a child that ignores SIGTERM is killed with SIGKILL after kill_grace', async () => {
    const childPid = path.join(dir, 'child.pid');
    const yaml = [
      'dag: stubborn',
      'tasks:',
      '  task:',
      '    operator: Shell',
      '    execution_timeout: 1s',
      '    kill_grace: 500ms',
      `    command: "sh -c 'trap \\"\\" TERM; echo $$ > ${childPid}; while true; do sleep 0.1; done' & wait"`,
    ].join('\n');
    const r = await runDag(env, yaml, DAY);
    expect(r.state).to.equal('failed');
    const pid = readPid(childPid);
    expect(await survivors([pid], 500)).to.deep.equal([]);
  });

  it('stops what a successful command left running in the background', async () => {
    const childPid = path.join(dir, 'child.pid');
    const r = await runDag(
      env,
      oneTask('Shell', `command: "sleep 300 & echo $! > ${childPid}; echo started"\nkill_grace: 1s`),
      DAY,
    );
    expect(r.state).to.equal('success');
    expect(r.outputs('task').return_value).to.equal('started');
    expect(await survivors([readPid(childPid)], 1_000)).to.deep.equal([]);
    const lines = await logLines(r);
    expect(lines.map((l) => l.msg)).to.include('processes the command left running in its process group were stopped (SIGTERM)');
  });
});
