/**
 * Cold start of the built CLI: the CPU time (user + system, the process and
 * its threads) of whole commands, each as a ratio to a bare `node -e 0`
 * measured in the same run, median of RUNS runs, interleaved so that noise
 * from the machine falls on every command alike.
 *
 * CPU time is read with the shell's `times` builtin (children's user and
 * system time), so nothing is added to the measured process.
 *
 * The CLI is the bundle `npm run build` makes. `dags list` and `dags
 * validate` run on unchanged files, as a user running them again does: the
 * warm-up run fills the cache of checked DAG files (engine/dag/cache.ts);
 * the "every file just edited" row shows the cost when it cannot help.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package folder (this file runs from .bench-dist/bench/): the CLI measured is the built one in dist/, as users run it. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const ROOT = packageRoot();
const MAIN = path.join(ROOT, 'dist', 'engine', 'cli', 'main.js');
const RUN_DAG = path.join(ROOT, 'dist', 'engine', 'cli', 'run-dag.js');
const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7);

interface Sample {
  cpuMs: number;
  wallMs: number;
}

function quote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs argv once in `cwd`; returns its CPU and wall time. Throws when it fails. */
function measure(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Sample {
  const script = `${argv.map(quote).join(' ')} >/dev/null 2>/tmp/sluice-bench-cli.err || { cat /tmp/sluice-bench-cli.err >&2; exit 3; }; times`;
  const started = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { cwd, env, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  // `times` prints the shell's own times, then its children's: "0m0.123s 0m0.045s".
  const lines = r.stdout.trim().split('\n');
  const kids = lines[lines.length - 1]!.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  if (!kids) throw new Error(`cannot read CPU times from: ${r.stdout}`);
  const cpuMs = (Number(kids[1]) * 60 + Number(kids[2]) + Number(kids[3]) * 60 + Number(kids[4])) * 1000;
  return { cpuMs, wallMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function benchCli(): Promise<Record<string, unknown>[]> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-cli-'));
  const dagsOne = path.join(home, 'one-dags');
  fs.mkdirSync(dagsOne);
  fs.writeFileSync(
    path.join(dagsOne, 'one.yaml'),
    'dag: one\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  only: { operator: Empty }\n',
  );
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_HOME: path.join(home, 'home'), NO_COLOR: '1' };
  delete env.SLUICE_CONFIG;
  delete env.SLUICE_PLUGINS;
  const node = process.execPath;
  const dags = path.join(ROOT, 'dags');
  let day = 0;
  // A copy of the project's DAGs whose files change before every sample: what validating edited files costs (the
  // cache of checked DAG files cannot help; the SQL files they name are still found in the package).
  const dagsEdited = path.join(home, 'edited-dags');
  fs.cpSync(dags, dagsEdited, { recursive: true });
  const edit = () => {
    const now = new Date();
    for (const f of fs.readdirSync(dagsEdited)) fs.utimesSync(path.join(dagsEdited, f), now, now);
  };
  // `before`: the ratios measured by this bench before the lazy loading (every module, the AWS SDK and the drivers
  // imported up front); `bundled`: before the CLI was bundled and checked DAG files cached (tsc's output, lazy
  // loading); both recorded to print beside today's.
  const commands: {
    name: string;
    target: number | null;
    before: number | null;
    bundled: number | null;
    argv: () => string[];
  }[] = [
    { name: 'node -e 0 (baseline)', target: null, before: null, bundled: null, argv: () => [node, '-e', '0'] },
    { name: 'sluice --version', target: 2, before: 14.8, bundled: 1.64, argv: () => [node, MAIN, '--version'] },
    {
      name: 'sluice dags list',
      target: 3,
      before: 16.2,
      bundled: 6.62,
      argv: () => [node, MAIN, '--dags-dir', dags, 'dags', 'list'],
    },
    {
      name: 'sluice dags validate',
      target: 3.5,
      before: 16.6,
      bundled: 6.72,
      argv: () => [node, MAIN, '--dags-dir', dags, 'dags', 'validate'],
    },
    {
      name: 'sluice dags validate (every file just edited)',
      target: null,
      before: null,
      bundled: null,
      argv: () => (edit(), [node, MAIN, '--dags-dir', dagsEdited, 'dags', 'validate']),
    },
    {
      name: 'run-dag (one Empty task)',
      target: 5,
      before: 15.1,
      bundled: 5.98,
      // A new date each time: a second run of the same date is refused without --rerun.
      argv: () => [
        node,
        RUN_DAG,
        '--dags-dir',
        dagsOne,
        'one',
        '--date',
        new Date(Date.UTC(2024, 0, 1 + day++)).toISOString().slice(0, 10),
      ],
    },
  ];
  // Warm the file cache and create the state DB once, outside the samples.
  for (const c of commands) measure(c.argv(), home, env);
  const samples = new Map(commands.map((c) => [c.name, [] as Sample[]]));
  for (let i = 0; i < RUNS; i++) for (const c of commands) samples.get(c.name)!.push(measure(c.argv(), home, env));
  fs.rmSync(home, { recursive: true, force: true });

  const base = median(samples.get(commands[0]!.name)!.map((s) => s.cpuMs));
  return commands.map((c) => {
    const s = samples.get(c.name)!;
    const cpu = median(s.map((x) => x.cpuMs));
    const ratio = cpu / base;
    return {
      command: c.name,
      'CPU ms (median)': cpu.toFixed(0),
      'wall ms (median)': median(s.map((x) => x.wallMs)).toFixed(0),
      'CPU / node -e 0': `${ratio.toFixed(2)}×`,
      'before lazy loading (recorded)': c.before === null ? '' : `${c.before}×`,
      'before bundling + DAG cache (recorded)': c.bundled === null ? '' : `${c.bundled}×`,
      target: c.target === null ? '' : `≤ ${c.target}× ${ratio <= c.target ? 'met' : 'NOT met'}`,
    };
  });
}
