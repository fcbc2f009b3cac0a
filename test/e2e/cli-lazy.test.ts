import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../helpers/cli.js';
import { tmpDir } from '../helpers/engine.js';

const MAIN = path.join(ROOT, 'engine', 'cli', 'main.ts');
const TRACE = path.join(ROOT, 'test', 'fixtures', 'module-trace', 'register.mjs');

/** Runs `sluice ARGS` from the sources and returns what it printed and every module it loaded. */
function traced(args: string[], home: string): { code: number | null; stdout: string; loaded: string[] } {
  const file = path.join(home, `trace-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_HOME: path.join(home, 'home'), MODULE_TRACE_FILE: file, NO_COLOR: '1' };
  delete env.SLUICE_CONFIG;
  delete env.SLUICE_PLUGINS;
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--import', TRACE, MAIN, ...args], {
    cwd: home,
    env,
    encoding: 'utf8',
  });
  const loaded = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => path.relative(ROOT, l.startsWith('file:') ? fileURLToPath(l) : l));
  return { code: r.status, stdout: r.stdout, loaded };
}

/** Which of these packages (by name) or source paths (relative, with a slash) the loaded modules include. */
function among(loaded: string[], names: string[]): string[] {
  const hits = new Set<string>();
  for (const l of loaded) {
    for (const n of names) {
      if (n.includes('/') && !n.startsWith('@') ? l.startsWith(n) : l.includes(`node_modules/${n}/`)) hits.add(n);
    }
  }
  return [...hits].sort();
}

/** What no command should load before it needs it: drivers, the AWS SDK, the runner, the scheduler. */
const HEAVY = [
  '@electric-sql/pglite',
  'pg',
  'pg-copy-streams',
  'pino-pretty',
  '@aws-sdk/client-ec2',
  '@aws-sdk/client-redshift',
  '@aws-sdk/client-s3',
];

describe('CLI start-up loads what the command needs, when it runs', () => {
  const home = tmpDir('sluice-cli-lazy-');
  after(() => fs.rmSync(home, { recursive: true, force: true }));

  it('--version and --help load no configuration parser, state DB, logger, DAG loader or driver', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['--help'], ['dags', '--help']]) {
      const r = traced(args, home);
      expect(r.code, args.join(' ')).to.equal(0);
      if (args[0] === '--version') expect(r.stdout.trim()).to.equal(pkg.version);
      const forbidden = [
        ...HEAVY,
        'zod',
        'yaml',
        'better-sqlite3',
        'pino',
        'liquidjs',
        'croner',
        'engine/cli/app.ts',
        'engine/config.ts',
        'operators/',
      ];
      expect(among(r.loaded, forbidden), args.join(' ')).to.deep.equal([]);
    }
  });

  it('dags list loads no logger, runner, scheduler, sample generator or driver', () => {
    const r = traced(['--dags-dir', path.join(ROOT, 'dags'), 'dags', 'list', '--json'], home);
    expect(r.code).to.equal(0);
    expect((JSON.parse(r.stdout) as { dags: { dag_id: string }[] }).dags.map((d) => d.dag_id)).to.include('songplays');
    const forbidden = [
      ...HEAVY,
      'pino',
      'engine/cli/run-command.ts',
      'engine/cli/ops.ts',
      'engine/run/runner.ts',
      'engine/schedule/scheduler.ts',
      'sample/',
    ];
    expect(among(r.loaded, forbidden)).to.deep.equal([]);
    // what it does need is loaded (the trace sees it)
    expect(among(r.loaded, ['yaml', 'zod', 'better-sqlite3'])).to.deep.equal(['better-sqlite3', 'yaml', 'zod']);
  });
});
