/**
 * The CLI as `npm run build` ships it: bundled by scripts/build.mjs, with the
 * cache of checked DAG files on. It must say exactly what the sources say,
 * keep heavy drivers out of light commands, and find what it loads lazily
 * (chunks, the PGlite worker, plugins built against their own zod).
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Project, ROOT } from '../helpers/cli.js';

const TRACE = path.join(ROOT, 'test', 'fixtures', 'module-trace', 'register.mjs');
const BROKEN = 'dag: broken\nschedule: "@daily"\ntasks:\n  a: { operator: Empyt }\n  b: { operator: Empty, upstream: [c] }\n';
const GREET = 'dag: greet\ntasks:\n  hello: { operator: Greet, who: 1, whom: x }\n';

describe('the bundled CLI (npm run build)', function () {
  this.timeout(180_000);
  let out = '';
  let main = '';
  let runDag = '';
  const project = new Project();
  const home = path.join(project.dir, '.sluice');
  let written = 0;

  /** Runs the bundled `sluice` (or run-dag) in the project, as a user would: no plugins unless `env` adds them. */
  function bundled(args: string[], env: NodeJS.ProcessEnv = {}, bin = main, trace?: string) {
    const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...env };
    for (const k of ['SLUICE_HOME', 'SLUICE_CONFIG', 'SLUICE_PLUGINS']) if (!(k in env)) delete e[k];
    if (trace) e.MODULE_TRACE_FILE = trace;
    const r = spawnSync(process.execPath, [...(trace ? ['--import', TRACE] : []), bin, ...args], {
      cwd: project.dir,
      env: e,
      encoding: 'utf8',
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  before(() => {
    project.write('dags/one.yaml', 'dag: one\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  only: { operator: Empty }\n');
    project.write(
      'dags/query.yaml',
      'dag: query\nparams: { n: 1 }\ntasks:\n  ask: { operator: Sql, sql: sql/ask.sql }\n  after: { operator: Empty, upstream: ask }\n',
    );
    project.write('sql/ask.sql', 'SELECT {{ params.n | sql_literal }} AS n');
    project.write('dags/broken.yaml', BROKEN);
    written = Date.now();
    // inside the package (the gitignored tmp/), so that the bundle's external packages resolve from node_modules
    fs.mkdirSync(path.join(ROOT, 'tmp'), { recursive: true });
    out = fs.mkdtempSync(path.join(ROOT, 'tmp', 'bundle-'));
    main = path.join(out, 'engine', 'cli', 'main.js');
    runDag = path.join(out, 'engine', 'cli', 'run-dag.js');
    execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs'), '--bundle-only', '--outdir', out], { cwd: ROOT });
  });
  after(() => {
    if (out) fs.rmSync(out, { recursive: true, force: true });
    fs.rmSync(project.dir, { recursive: true, force: true });
  });

  it('prints what the sources print for --version, dags list and dags validate, before and after caching', async () => {
    const sources = ['--version', 'dags list --json', 'dags validate --json', 'dags validate'].map((a) =>
      project.run(a.split(' '), { env: { SLUICE_PLUGINS: '' } }),
    );
    const check = (when: string) =>
      ['--version', 'dags list --json', 'dags validate --json', 'dags validate'].forEach((a, i) => {
        const r = bundled(a.split(' '));
        expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }, `${a}, ${when}`).to.deep.equal({
          code: sources[i]!.code,
          stdout: sources[i]!.stdout,
          stderr: sources[i]!.stderr,
        });
      });
    check('files just written (not cached yet)');
    // Files changed in the last 3 s are not trusted to the cache: wait until these are older.
    await new Promise((r) => setTimeout(r, Math.max(0, written + 3200 - Date.now())));
    check('first run after (writes the cache)');
    const entries = path.join(home, 'cache', 'dags');
    const stamps = () => fs.readdirSync(entries).map((f) => [f, fs.statSync(path.join(entries, f)).mtimeMs]);
    const before = stamps();
    expect(before).to.have.length(3); // one.yaml, query.yaml, broken.yaml
    check('from the cache');
    expect(stamps(), 'entries reused, not rewritten').to.deep.equal(before);

    // an edit is seen at once: the broken file fixed
    project.write('dags/broken.yaml', BROKEN.replace('Empyt', 'Empty').replace('[c]', '[a]'));
    const fixed = bundled(['dags', 'validate']);
    expect(fixed.code).to.equal(0);
    expect(fixed.stdout).to.equal(project.run(['dags', 'validate'], { env: { SLUICE_PLUGINS: '' } }).stdout);
  });

  it('dags list loads no driver, AWS SDK or pretty printer; run-dag runs an Empty DAG', () => {
    const trace = path.join(project.dir, 'trace.txt');
    expect(bundled(['dags', 'list'], {}, main, trace).code).to.equal(0);
    const loaded = fs.readFileSync(trace, 'utf8').split('\n').filter(Boolean);
    const heavy = ['@electric-sql/pglite', 'pg', 'pg-copy-streams', 'pino', 'pino-pretty', '@aws-sdk'].filter((n) =>
      loaded.some((l) => (l.startsWith('file:') ? fileURLToPath(l) : l).includes(`node_modules/${n}/`)),
    );
    expect(heavy).to.deep.equal([]);
    // what a command loads comes from the bundle (a few chunks), not from the compiled modules beside it
    expect(loaded.filter((l) => l.includes('/dist/engine/'))).to.deep.equal([]);

    const r = bundled(['one', '--date', '2024-01-02'], {}, runDag);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/run one__manual__2024-01-02T00:00:00Z success/);
  });

  it('runs a SQL task on the embedded warehouse (the PGlite worker is found beside the bundle)', () => {
    const r = bundled(['query', '--date', '2024-01-02'], {}, runDag);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.match(/run query__manual__2024-01-02T00:00:00Z success/);
  });

  it('validates tasks of a plugin built with its own copy of zod as the sources do', () => {
    const zod = import.meta.resolve('zod');
    const plugin = project.write(
      'plugins/greet.mjs',
      `import { z } from ${JSON.stringify(zod)};\n` +
        'export const Greet = Object.defineProperty(\n' +
        "  { name: 'Greet', description: 'greets', templated: [], params: z.object({ who: z.string() }).strict(), async execute() {} },\n" +
        "  Symbol.for('sluice.operator'),\n  { value: true },\n);\n",
    );
    project.write('dags/greet.yaml', GREET);
    const env = { SLUICE_PLUGINS: plugin };
    const viaSources = project.run(['dags', 'validate', 'dags/greet.yaml'], { env });
    const viaBundle = bundled(['dags', 'validate', 'dags/greet.yaml'], env);
    expect(viaSources.stdout)
      .to.match(/must be a string/)
      .and.match(/unknown parameter 'whom' for operator Greet/);
    expect({ code: viaBundle.code, stdout: viaBundle.stdout }).to.deep.equal({
      code: viaSources.code,
      stdout: viaSources.stdout,
    });
    fs.rmSync(path.join(project.dir, 'dags', 'greet.yaml'));
  });
});
