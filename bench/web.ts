/**
 * Web UI benchmark: a SQLite state DB seeded through the state store API
 * with 10,000 runs of a 50-task DAG (every task instance with its state),
 * one try holding a 100,000-line log, and a DAG folder of 200 DAG files;
 * the web server (engine/web) started in this process on 127.0.0.1, then
 * p95 over REQUESTS sequential requests (after a warm-up) of:
 *   - the DAG grid page (25 runs x 50 tasks, its graph): target <= 150 ms
 *   - a page of the 100,000-line log (the default 500 lines): target <= 100 ms
 *   - the DAG list with 200 DAGs: target <= 100 ms
 * Times are the client's (fetch until the whole body is read).
 *
 * Then the scheduler's interval-to-task latency with the UI served by the
 * daemon (`sluice scheduler --web`, a child process): a 10-task chain that
 * runs every minute, measured at one minute boundary with no client, and at
 * the next while 20 clients poll the UI (target: unchanged, within 10%).
 * This waits for up to two minutes of wall time (BENCH_WEB_SCHEDULER=0 skips it).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadDagsDir } from '../engine/dag/load.js';
import { Runs } from '../engine/run/runs.js';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import { cachedDagLoader } from '../engine/web/context.js';
import { startWebServer } from '../engine/web/server.js';
import { defaultRegistry } from '../operators/index.js';

const RUNS = Number(process.env.BENCH_WEB_RUNS ?? 10_000);
const TASKS = 50;
const LOG_LINES = Number(process.env.BENCH_WEB_LOG_LINES ?? 100_000);
const DAGS = 200;
const REQUESTS = Number(process.env.BENCH_WEB_REQUESTS ?? 50);
const DAY = 86_400_000;

/** A 50-task DAG in layers of 5, each task downstream of two of the layer before. */
function wideDag(): string {
  const lines = ['dag: wide', 'schedule: "@daily"', 'start_date: 1990-01-01', 'catchup: false', 'tasks:'];
  for (let i = 0; i < TASKS; i++) {
    const layer = Math.floor(i / 5);
    const up = layer === 0 ? [] : [`t${(layer - 1) * 5 + (i % 5)}`, `t${(layer - 1) * 5 + ((i + 1) % 5)}`];
    lines.push(`  t${i}: { operator: Empty${up.length ? `, upstream: [${up.join(', ')}]` : ''} }`);
  }
  return lines.join('\n') + '\n';
}

function smallDag(i: number): string {
  return [
    `dag: dag_${String(i).padStart(3, '0')}`,
    `description: small DAG number ${i}`,
    'schedule: "0 3 * * *"',
    'start_date: 2024-01-01',
    'tasks:',
    '  a: { operator: Empty }',
    '  b: { operator: Empty, upstream: [a] }',
    '  c: { operator: Empty, upstream: [b] }',
  ].join('\n');
}

function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]!;
}

async function timeGets(url: string): Promise<{ p95: number; median: number; bytes: number }> {
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    const res = await fetch(url);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
    bytes = (await res.text()).length;
  }
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.text();
    times.push(performance.now() - t);
  }
  const sorted = [...times].sort((a, b) => a - b);
  return { p95: p95(times), median: sorted[sorted.length >> 1]!, bytes };
}

async function seed(store: SqliteStateStore): Promise<{ seedMs: number; tryId: number; runId: string }> {
  const started = performance.now();
  const tasks = Array.from({ length: TASKS }, (_, i) => ({ taskId: `t${i}`, operator: 'Empty', maxTries: 1 }));
  const first = Date.UTC(2000, 0, 1);
  let lastRun = '';
  for (let i = 0; i < RUNS; i++) {
    const logicalDate = new Date(first + i * DAY);
    const now = new Date(logicalDate.getTime() + DAY);
    const run = await store.runs.create({
      dagId: 'wide',
      logicalDate,
      dataIntervalStart: logicalDate,
      dataIntervalEnd: new Date(logicalDate.getTime() + DAY),
      runType: 'scheduled',
      conf: {},
      tasks,
      now,
    });
    if (!run) throw new Error('duplicate run');
    await store.runs.start(run.runId, now);
    const failed = i % 17 === 16;
    for (let t = 0; t < TASKS; t++) {
      const state = failed && t >= 45 ? (t === 45 ? 'failed' : 'upstream_failed') : 'success';
      await store.tasks.setState(run.runId, `t${t}`, state, now);
    }
    await store.runs.finish(run.runId, failed ? 'failed' : 'success', new Date(now.getTime() + 60_000));
    lastRun = run.runId;
  }
  // the newest run's first task: one try with a long log
  const tr = await store.tasks.startTry(lastRun, 't0', new Date());
  const at = Date.now();
  for (let i = 0; i < LOG_LINES; i++) {
    await store.logs.append(tr.tryId, {
      ts: new Date(at + i),
      level: i % 97 === 0 ? 'warn' : 'info',
      msg: `processed batch ${i} of ${LOG_LINES}: 5000 rows staged into staging_events`,
      data: i % 10 === 0 ? { batch: i, rows: 5000 } : null,
    });
  }
  await store.tasks.endTry(tr, { state: 'success', taskState: 'success', now: new Date(), outputs: {} });
  return { seedMs: performance.now() - started, tryId: tr.tryId, runId: lastRun };
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CHAIN = 10;
const CLIENTS = 20;
/** How often each polling client asks for a page (20 clients: 80 requests a second). */
const POLL_MS = 250;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Interval close -> first task start, and the median task end -> dependent start, of the run closing at `boundary`. */
async function latencyAt(dbFile: string, boundary: number): Promise<{ close: number; dependent: number }> {
  const deadline = boundary + 30_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    if (Date.now() < boundary || !fs.existsSync(dbFile)) continue;
    const db = new Database(dbFile, { readonly: true });
    try {
      const run = db
        .prepare('SELECT run_id, state FROM dag_runs WHERE data_interval_end = ?')
        .get(new Date(boundary).toISOString()) as { run_id: string; state: string } | undefined;
      if (run?.state !== 'success') continue;
      const tries = db.prepare('SELECT task_id, started_at, ended_at FROM task_tries WHERE run_id = ?').all(run.run_id) as {
        task_id: string;
        started_at: string;
        ended_at: string;
      }[];
      const by = new Map(tries.map((t) => [t.task_id, t]));
      const deps: number[] = [];
      for (let i = 1; i < CHAIN; i++)
        deps.push(Date.parse(by.get(`t${i}`)!.started_at) - Date.parse(by.get(`t${i - 1}`)!.ended_at));
      return { close: Date.parse(by.get('t0')!.started_at) - boundary, dependent: median(deps) };
    } finally {
      db.close();
    }
  }
  throw new Error(`the scheduler did not complete the run of the interval ending ${new Date(boundary).toISOString()} in time`);
}

/** `sluice scheduler --web` with and without 20 clients polling its UI: the scheduler's latencies side by side. */
async function benchSchedulerUnderUi(): Promise<Record<string, unknown>[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-web-sched-'));
  fs.mkdirSync(path.join(dir, 'dags'));
  const dag = ['dag: every_minute', 'schedule: "* * * * *"', `start_date: ${new Date().toISOString().slice(0, 10)}`];
  dag.push('catchup: false', 'tasks:');
  for (let i = 0; i < CHAIN; i++) dag.push(`  t${i}: { operator: Empty${i ? `, upstream: [t${i - 1}]` : ''} }`);
  fs.writeFileSync(path.join(dir, 'dags', 'every_minute.yaml'), dag.join('\n') + '\n');
  const main = import.meta.url.endsWith('.ts')
    ? ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'engine', 'cli', 'main.ts')]
    : [path.join(ROOT, 'engine', 'cli', 'main.js')];
  const child = spawn(process.execPath, [...main, 'scheduler', '--web', '--port', '0'], {
    cwd: dir,
    env: { ...process.env, SLUICE_HOME: path.join(dir, '.sluice'), SLUICE_WEB_TOKEN: 'bench-token-not-used-here' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  const stop = new AbortController();
  try {
    let url: string | undefined;
    for (const until = Date.now() + 60_000; !url && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 100));
      url = /serving (http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1];
    }
    if (!url) throw new Error(`sluice scheduler --web did not start:\n${out}`);
    const dbFile = path.join(dir, '.sluice', 'state.db');
    const next = () => Math.ceil((Date.now() + 3000) / 60_000) * 60_000;
    const quiet = await latencyAt(dbFile, next());

    const pages = ['/', '/dags/every_minute', '/runs', '/api/dags/every_minute', '/api/runs?limit=25'];
    const times: number[] = [];
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = c; !stop.signal.aborted; i++) {
        const t = performance.now();
        try {
          await (await fetch(url + pages[i % pages.length]!, { signal: stop.signal })).text();
          times.push(performance.now() - t);
        } catch {
          if (!stop.signal.aborted) throw new Error(`a polling client failed on ${pages[i % pages.length]}`);
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    });
    const polled = await latencyAt(dbFile, next());
    stop.abort();
    await Promise.all(clients);
    const change = (a: number, b: number) => `${b >= a ? '+' : ''}${(((b - a) / Math.max(a, 1)) * 100).toFixed(0)}%`;
    const within = (a: number, b: number) => (Math.abs(b - a) <= Math.max(0.1 * a, 1) ? 'yes' : 'NO');
    return [
      {
        measure: 'interval close -> first task start (scheduler --web)',
        quiet_ms: quiet.close.toFixed(1),
        [`${CLIENTS}_clients_ms`]: polled.close.toFixed(1),
        change: change(quiet.close, polled.close),
        'within 10%': within(quiet.close, polled.close),
      },
      {
        measure: `task end -> dependent start, median of ${CHAIN - 1}`,
        quiet_ms: quiet.dependent.toFixed(1),
        [`${CLIENTS}_clients_ms`]: polled.dependent.toFixed(1),
        change: change(quiet.dependent, polled.dependent),
        'within 10%': within(quiet.dependent, polled.dependent),
      },
      {
        ui_requests: times.length,
        ui_p95_ms: times.length ? [...times].sort((a, b) => a - b)[Math.ceil(times.length * 0.95) - 1]!.toFixed(1) : '-',
        note: `${CLIENTS} clients each GET a page every ${POLL_MS} ms; target: latencies within 10% (ms timestamps: a change of 1-2 ms is noise)`,
      },
    ];
  } finally {
    stop.abort();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchWeb(): Promise<Record<string, unknown>[]> {
  const pages = await benchPages();
  return process.env.BENCH_WEB_SCHEDULER === '0' ? pages : [...pages, ...(await benchSchedulerUnderUi())];
}

async function benchPages(): Promise<Record<string, unknown>[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-web-'));
  try {
    const dagsDir = path.join(dir, 'dags');
    fs.mkdirSync(dagsDir);
    fs.writeFileSync(path.join(dagsDir, 'wide.yaml'), wideDag());
    for (let i = 1; i < DAGS; i++) fs.writeFileSync(path.join(dagsDir, `dag_${String(i).padStart(3, '0')}.yaml`), smallDag(i));
    const store = new SqliteStateStore(path.join(dir, 'state.db'));
    const { seedMs, runId } = await seed(store);
    const registry = defaultRegistry();
    const loadDags = cachedDagLoader(dagsDir, () => loadDagsDir(dagsDir, registry));
    if (loadDags().dags.length !== DAGS)
      throw new Error(
        `expected ${DAGS} DAGs: ${loadDags()
          .errors.map((e) => e.message)
          .join('; ')}`,
      );
    const server = await startWebServer(
      { store, runs: new Runs(store), dagsDir, loadDags },
      { host: '127.0.0.1', port: 0, token: 'bench-token-not-used-here' },
    );
    try {
      const grid = await timeGets(`${server.url}/dags/wide`);
      const log = await timeGets(`${server.url}/runs/${encodeURIComponent(runId)}/tasks/t0`);
      const list = await timeGets(`${server.url}/`);
      const row = (what: string, r: { p95: number; median: number; bytes: number }, target: number) => ({
        page: what,
        p95_ms: r.p95.toFixed(1),
        median_ms: r.median.toFixed(1),
        target: `<= ${target} ms`,
        met: r.p95 <= target ? 'yes' : 'NO',
        page_kb: (r.bytes / 1024).toFixed(0),
      });
      return [
        {
          seeded: `${RUNS} runs x ${TASKS} tasks, ${LOG_LINES} log lines, ${DAGS} DAG files`,
          seed_s: (seedMs / 1000).toFixed(1),
        },
        row(`DAG grid (25 runs x ${TASKS} tasks + graph)`, grid, 150),
        row(`task log page (500 of ${LOG_LINES} lines)`, log, 100),
        row(`DAG list (${DAGS} DAGs)`, list, 100),
      ];
    } finally {
      await server.close();
      await store.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
