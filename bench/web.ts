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
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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

export async function benchWeb(): Promise<Record<string, unknown>[]> {
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
