/**
 * The Function operator: TypeScript and JavaScript task functions of the
 * project, run without a build step through the real runner, with the
 * warehouse (PGlite in memory) from their TaskContext.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from '../../helpers/tmp.js';
import { closeRuns, makeEnv, oneTask, rows, runDag, type Env } from './support.js';

const DAY = '2024-01-01T00:00:00Z';
const FIXTURE = 'test/fixtures/functions/users.ts';

describe('Function', function () {
  this.timeout(60_000);
  let env: Env;

  before(() => {
    env = makeEnv('pglite://memory');
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  it('runs a TypeScript function with the warehouse and records what it returns', async () => {
    const r = await runDag(
      env,
      oneTask(
        'Function',
        `
        module: ${FIXTURE}
        export: loadUsers
        args: { table: fn_users, day: "{{ ds }}" }`,
      ),
      DAY,
    );
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.deep.equal({
      rows: 3,
      day: '2024-01-01',
      interval_end: '2024-01-02T00:00:00.000Z',
      task: 'task',
    });
    expect(await rows(env, 'SELECT count(*)::int AS n FROM fn_users')).to.deep.equal([{ n: 3 }]);
    const lines = await r.store.logs.list(r.tries('task')[0]!.tryId);
    expect(lines.map((l) => l.msg)).to.include('users loaded');
  });

  it('records a plain return value as return_value (the default export)', async () => {
    const r = await runDag(env, oneTask('Function', `module: ${FIXTURE}`), DAY);
    expect(r.outputs('task')).to.deep.equal({ return_value: 42 });
  });

  it("fails with the function's own error, retried as any failure", async () => {
    const r = await runDag(env, oneTask('Function', `module: ${FIXTURE}\nexport: broken`, { retries: 1 }), DAY);
    expect(r.taskState('task')).to.equal('failed');
    expect(r.tries('task').map((t) => t.error)).to.deep.equal([
      'the upstream API returned nonsense',
      'the upstream API returned nonsense',
    ]);
  });

  it('names the functions a module exports when the export is not one, and a missing module, without retrying', async () => {
    const r = await runDag(env, oneTask('Function', `module: ${FIXTURE}\nexport: notAFunction`, { retries: 2 }), DAY);
    expect(r.taskState('task')).to.equal('failed');
    expect(r.tries('task')).to.have.length(1);
    expect(r.tries('task')[0]!.error).to.match(
      /has no exported function 'notAFunction' \(it exports a string\); its exported functions: .*broken.*loadUsers/,
    );
    const missing = await runDag(env, oneTask('Function', `module: tasks/nope.ts`, { retries: 2 }), DAY);
    expect(missing.taskState('task')).to.equal('failed');
    // (the absolute path after "looked at" depends on where the tree is, and may meet a secret another test registered)
    expect(missing.tries('task')[0]!.error).to.include('module tasks/nope.ts not found (looked at ');
  });

  it('runs .mjs modules, and reads a module again when it changed', async () => {
    const dir = makeTempDir('sluice-fn');
    const file = path.join(dir, 'step.mjs');
    fs.writeFileSync(file, 'export function step(ctx) { return { n: 1, dag: ctx.dagId }; }\n');
    const yaml = oneTask('Function', `module: ${JSON.stringify(file)}\nexport: step`, { dag: 'mjs' });
    expect((await runDag(env, yaml, DAY)).outputs('task')).to.deep.equal({ n: 1, dag: 'mjs' });
    fs.writeFileSync(file, 'export function step(ctx) { return { n: 2, dag: ctx.dagId }; }\n');
    fs.utimesSync(file, new Date(), new Date(Date.now() + 5_000));
    expect((await runDag(env, yaml, DAY)).outputs('task')).to.deep.equal({ n: 2, dag: 'mjs' });
  });

  it('runs a .ts module outside an ESM package (compiled as CommonJS)', async () => {
    const dir = makeTempDir('sluice-fn');
    const file = path.join(dir, 'step.ts');
    fs.writeFileSync(file, 'export function step(): { ok: boolean } {\n  return { ok: true };\n}\n');
    const r = await runDag(env, oneTask('Function', `module: ${JSON.stringify(file)}\nexport: step`), DAY);
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ ok: true });
  });

  it('rejects a module that is not .ts or .js when the DAG loads', async () => {
    let error: unknown;
    try {
      await runDag(env, oneTask('Function', `module: tasks/step.py`), DAY);
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/dag\.yaml:\d+:\d+: tasks\.task\.module: must be a \.ts, .*\.cjs file/);
  });
});
