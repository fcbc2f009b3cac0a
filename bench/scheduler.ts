/**
 * Scheduler latency, measured with the real daemon (a child process): from a
 * data interval closing to its run's first task starting, and from a task
 * ending to its dependent starting. The baseline, measured in the same run, is
 * the engine bench: the runner alone, in one process (its overhead per task).
 *
 * The DAG runs every minute, so this waits for up to a minute of wall time.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TASKS = 10;

interface TryRow {
  task_id: string;
  started_at: string;
  ended_at: string;
}

function chainDag(): string {
  const lines = [
    'dag: every_minute',
    'schedule: "* * * * *"',
    `start_date: ${new Date().toISOString().slice(0, 10)}`,
    'catchup: false',
    'tasks:',
  ];
  for (let i = 0; i < TASKS; i++) lines.push(`  t${i}: { operator: Empty${i ? `, upstream: [t${i - 1}]` : ''} }`);
  return lines.join('\n') + '\n';
}

function dependentLatencies(tries: TryRow[]): number[] {
  const byTask = new Map(tries.map((t) => [t.task_id, t]));
  const out: number[] = [];
  for (let i = 1; i < TASKS; i++) {
    const parent = byTask.get(`t${i - 1}`);
    const child = byTask.get(`t${i}`);
    if (parent && child) out.push(Date.parse(child.started_at) - Date.parse(parent.ended_at));
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

export async function benchScheduler(): Promise<Record<string, unknown>[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-sched-'));
  fs.mkdirSync(path.join(dir, 'dags'));
  fs.writeFileSync(path.join(dir, 'dags', 'every_minute.yaml'), chainDag());
  // Compiled (npm run bench) or from the sources through tsx.
  const main = import.meta.url.endsWith('.ts')
    ? ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'engine', 'cli', 'main.ts')]
    : [path.join(ROOT, 'engine', 'cli', 'main.js')];
  const child = spawn(process.execPath, [...main, 'scheduler'], {
    cwd: dir,
    env: { ...process.env, SLUICE_HOME: path.join(dir, '.sluice') },
    stdio: 'ignore',
  });
  try {
    // The run of the interval closing at the next minute boundary (plus a margin to finish).
    const boundary = Math.ceil((Date.now() + 3000) / 60_000) * 60_000;
    const deadline = boundary + 30_000;
    const dbFile = path.join(dir, '.sluice', 'state.db');
    let tries: TryRow[] = [];
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      if (Date.now() < boundary || !fs.existsSync(dbFile)) continue;
      const db = new Database(dbFile, { readonly: true });
      try {
        const run = db
          .prepare(`SELECT run_id, state FROM dag_runs WHERE data_interval_end = ?`)
          .get(new Date(boundary).toISOString()) as { run_id: string; state: string } | undefined;
        if (run && run.state === 'success') {
          tries = db.prepare('SELECT task_id, started_at, ended_at FROM task_tries WHERE run_id = ?').all(run.run_id) as TryRow[];
          break;
        }
      } finally {
        db.close();
      }
    }
    if (tries.length !== TASKS) throw new Error('the daemon did not complete the run of the interval in time');
    const first = tries.find((t) => t.task_id === 't0')!;
    const closeToStart = Date.parse(first.started_at) - boundary;
    const daemonDep = median(dependentLatencies(tries));
    return [
      {
        measure: 'interval close -> first task start (real daemon)',
        ms: closeToStart.toFixed(1),
        'target < 50 ms': closeToStart < 50 ? 'yes' : 'NO',
      },
      {
        measure: `task end -> dependent start, median of ${TASKS - 1} (real daemon)`,
        ms: daemonDep.toFixed(1),
        'target < 50 ms': daemonDep < 50 ? 'yes' : 'NO',
      },
      { note: 'timestamps are the state DB try records (ms resolution); Airflow 2 needs seconds for each' },
    ];
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
