/**
 * Report benchmark: a state DB holding 1,000 stored runs of songplays (seeded
 * through the state store API: every task's try, each load's row count, the
 * quality task's check results, as the run loop stores them), then
 * `sluice report songplays --last 100 --format html --out FILE` through the
 * built CLI (dist/): wall time, median of RUNS runs after a warm-up, and
 * the page's size. Targets: <= 1 s and <= 2 MB.
 *
 * The checks seeded are those of dags/songplays.yaml's quality task (names
 * derived as DataQuality derives them), so the page has the real number of
 * check histories; one day in 25 fails a check, one in 7 warns.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import type { NewCheckResult } from '../engine/state/index.js';

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const ROOT = packageRoot();
const MAIN = process.env.BENCH_REPORT_MAIN ?? path.join(ROOT, 'dist', 'engine', 'cli', 'main.js');
const RUNS = Number(process.env.BENCH_REPORT_RUNS ?? 5);
const STORED = Number(process.env.BENCH_REPORT_STORED ?? 1000);
const DAY = 86_400_000;

interface TaskSpec {
  operator: string;
  table?: string;
  checks?: { name?: string; type: string; table?: string; columns?: string[]; severity?: 'error' | 'warn' }[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Seeds `n` daily runs of songplays ending 2018-11-30 into a new state DB at `file`. */
async function seed(file: string, n: number): Promise<{ checks: number; seedMs: number }> {
  const dag = YAML.parse(fs.readFileSync(path.join(ROOT, 'dags', 'songplays.yaml'), 'utf8')) as {
    tasks: Record<string, TaskSpec>;
  };
  const tasks = Object.entries(dag.tasks);
  const taken = new Set<string>();
  const checks = (dag.tasks.quality?.checks ?? []).map((c, i) => {
    const base = c.name ?? [c.type, c.table, ...(c.columns ?? [])].filter(Boolean).join('_') + (c.table ? '' : `_${i + 1}`);
    let name = base;
    for (let k = 2; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return { ...c, name, severity: c.severity ?? 'error' };
  });
  const store = new SqliteStateStore(file);
  const started = performance.now();
  const last = Date.UTC(2018, 10, 30);
  for (let i = 0; i < n; i++) {
    const logicalDate = new Date(last - (n - 1 - i) * DAY);
    const now = new Date(logicalDate.getTime() + 2 * DAY);
    const run = await store.runs.create({
      dagId: 'songplays',
      logicalDate,
      dataIntervalStart: logicalDate,
      dataIntervalEnd: new Date(logicalDate.getTime() + DAY),
      runType: 'scheduled',
      conf: {},
      tasks: tasks.map(([taskId, t]) => ({ taskId, operator: t.operator, maxTries: 1 })),
      now,
    });
    if (!run) throw new Error(`songplays already has a run for ${logicalDate.toISOString()}`);
    await store.runs.start(run.runId, now);
    const rows = 6000 + Math.round(1500 * Math.sin(i / 5)) + (i % 13) * 40;
    const failing = i % 25 === 24;
    const warning = i % 7 === 6;
    for (const [taskId, t] of tasks) {
      const tr = await store.tasks.startTry(run.runId, taskId, now);
      const table = typeof (t as { table?: unknown }).table === 'string' ? (t as { table: string }).table : null;
      const outputs: Record<string, unknown> = table ? { table, rows_loaded: rows, rows_inserted: rows } : {};
      const results: NewCheckResult[] =
        taskId === 'quality'
          ? checks.map((c, k) => {
              const bad = (failing && k === 0) || (warning && c.severity === 'warn');
              return {
                name: c.name,
                type: c.type,
                table: c.table ?? null,
                severity: c.severity,
                status: bad ? (c.severity === 'warn' ? 'warn' : 'fail') : 'pass',
                observed: c.type === 'row_count' ? (bad ? 0 : rows) : bad ? 3 : 0,
                expected: c.type === 'row_count' ? '>= 1' : 0,
                sample: bad ? [{ songplay_id: i, user_id: null, level: 'free' }] : null,
                message: null,
                durationMs: 3 + (k % 5),
              };
            })
          : [];
      const failed = taskId === 'quality' && failing;
      await store.tasks.endTry(tr, {
        state: failed ? 'failed' : 'success',
        taskState: failed ? 'failed' : 'success',
        now: new Date(now.getTime() + 1000),
        outputs: taskId === 'quality' ? { checks: results, passed: results.length } : outputs,
      });
      if (table || results.length)
        await store.quality.record(tr, {
          dagId: 'songplays',
          logicalDate,
          checks: results,
          rowCounts: table ? [{ table, rows }] : [],
          now,
        });
    }
    await store.runs.finish(run.runId, failing ? 'failed' : 'success', new Date(now.getTime() + 60_000));
  }
  const seedMs = performance.now() - started;
  await store.close();
  return { checks: checks.length, seedMs };
}

export async function benchReport(): Promise<Record<string, unknown>[]> {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-report-'));
  try {
    const home = path.join(dir, '.sluice');
    fs.mkdirSync(home);
    fs.cpSync(path.join(ROOT, 'dags'), path.join(dir, 'dags'), { recursive: true });
    const { checks, seedMs } = await seed(path.join(home, 'state.db'), STORED);
    const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_HOME: home, NO_COLOR: '1' };
    delete env.SLUICE_CONFIG;
    delete env.SLUICE_PLUGINS;
    const out = path.join(dir, 'report.html');
    const argv = [MAIN, 'report', 'songplays', '--last', '100', '--format', 'html', '--out', out];
    const walls: number[] = [];
    for (let i = 0; i <= RUNS; i++) {
      const t0 = process.hrtime.bigint();
      const r = spawnSync(process.execPath, argv, { cwd: dir, env, encoding: 'utf8' });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // exit 1 is the report's verdict (the latest run may have failed a check), not a failure of the command
      if (r.status !== 0 && r.status !== 1) throw new Error(`sluice report failed (${r.status}): ${r.stderr}`);
      if (i > 0) walls.push(ms); // the first run warms the OS file cache
    }
    const bytes = fs.statSync(out).size;
    const wall = median(walls);
    return [
      { stored_runs: STORED, checks_per_run: checks, seeded_in: `${(seedMs / 1000).toFixed(1)}s` },
      {
        command: 'sluice report songplays --last 100 --format html --out FILE',
        wall: `${wall.toFixed(0)} ms (median of ${RUNS}; min ${Math.min(...walls).toFixed(0)}, max ${Math.max(...walls).toFixed(0)})`,
        target: '<= 1000 ms',
        ok: wall <= 1000 ? 'yes' : 'NO',
      },
      {
        html: `${(bytes / 1024).toFixed(0)} KB (${bytes.toLocaleString('en-US')} bytes)`,
        target: '<= 2 MB',
        ok: bytes <= 2 * 1024 * 1024 ? 'yes' : 'NO',
      },
    ];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
