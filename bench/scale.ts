/**
 * Scale-out benchmark (BENCH=scale): `sluice worker` processes on the
 * PostgreSQL state (a server on loopback, started as the tests start theirs,
 * or SLUICE_TEST_PG_URL), next to the SQLite single-process figure measured in
 * the same run.
 *
 * - throughput: 10,000 `Empty` tasks (10 runs x 1,000) queued, then 1, 2 and 4
 *   worker processes started: tasks completed per second from the first try's
 *   start to the last try's end (the state's task_tries);
 * - claim latency: with the workers idle, tasks queued one at a time (every
 *   20 ms); queued_at (task_instances) to started_at (task_tries), p50/p99;
 * - the run loop in workers mode (executeRun, executor `workers`, this
 *   process playing the scheduler) over one 1,000-task run with 2 workers;
 * - no task run twice: tries are counted per task instance;
 * - CPU ms per task: the worker processes' and the PostgreSQL server
 *   processes' CPU time (/proc) over the throughput phase, divided by its
 *   tasks: what a try costs, which other work on a shared machine does not
 *   change as much as it changes tasks per second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadDagSource } from '../engine/dag/index.js';
import { defaultRegistry } from '../operators/index.js';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import { PostgresStateStore } from '../engine/state/postgres/index.js';
import type { StateStore } from '../engine/state/index.js';
import { executeRun, type RunnerDeps } from '../engine/run/runner.js';
import { Runs } from '../engine/run/runs.js';
import { createSinkLogger, TaskLogSink } from '../engine/log.js';
import type { ConnectionResolver, Dag } from '../engine/interfaces.js';
import { createDatabase, dropDatabase, findPgBin, startPrivatePostgres, type PgServer } from '../test/helpers/postgres.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TASKS = Number(process.env.BENCH_SCALE_TASKS ?? 1000);
const RUNS = Number(process.env.BENCH_SCALE_RUNS ?? 10);
const CONCURRENCY = Number(process.env.BENCH_SCALE_CONCURRENCY ?? 8);
const LATENCY_SAMPLES = 200;
const LATENCY_GAP_MS = 20;

function wideDag(): string {
  const lines = ['dag: scale', 'max_active_tasks: 64', 'tasks:'];
  for (let i = 0; i < TASKS; i++) lines.push(`  t${i}: { operator: Empty }`);
  return lines.join('\n') + '\n';
}

const noConnections: ConnectionResolver = {
  warehouse: async () => {
    throw new Error('none');
  },
  objectStore: async () => {
    throw new Error('none');
  },
  publicUrl: () => '',
  dialect: () => 'postgres',
  names: () => [],
  closeAll: async () => {},
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux,
 * 100 ticks a second); null where it cannot be read (another OS, a server on
 * another host). A cost per task that other work on a shared machine does
 * not change, unlike tasks per second.
 */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds of the server processes serving this database now, by pid. */
async function backendCpu(db: pg.Client): Promise<Map<number, number>> {
  const { rows } = await db.query<{ pid: number }>(
    'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
  );
  const out = new Map<number, number>();
  for (const { pid } of rows) {
    const s = cpuSeconds(pid);
    if (s !== null) out.set(pid, s);
  }
  return out;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function runnerDeps(store: StateStore, extra: Partial<RunnerDeps> = {}): RunnerDeps {
  return {
    store,
    registry: defaultRegistry(),
    connections: noConnections,
    logger: createSinkLogger(new TaskLogSink(store.logs, null), 'info'),
    parallelism: 64,
    resolvePath: (p) => p,
    ...extra,
  };
}

/** `count` runs of the DAG, marked running (as a scheduler would), their ids. */
async function makeRuns(store: StateStore, dag: Dag, first: number, count: number): Promise<string[]> {
  const runs = new Runs(store);
  const ids: string[] = [];
  for (let i = first; i < first + count; i++) {
    const day = new Date(Date.UTC(2024, 0, 1 + i));
    const run = (await runs.createRun({ dag, interval: { start: day, end: day }, runType: 'manual', maxTries: 1 }))!;
    await store.runs.start(run.runId, new Date());
    ids.push(run.runId);
  }
  return ids;
}

/** The SQLite figure: the same runs, one process, the plain local executor. */
async function sqliteFigure(dag: Dag, dir: string): Promise<number> {
  const store = new SqliteStateStore(path.join(dir, 'state.db'));
  try {
    const ids = await makeRuns(store, dag, 0, RUNS);
    const t0 = performance.now();
    for (const id of ids) {
      const state = await executeRun(dag, id, runnerDeps(store));
      if (state !== 'success') throw new Error(`SQLite bench run ${id} ended ${state}`);
    }
    return (TASKS * RUNS) / ((performance.now() - t0) / 1000);
  } finally {
    await store.close();
  }
}

class Workers {
  private readonly procs: ChildProcess[] = [];
  constructor(
    private readonly project: string,
    private readonly url: string,
  ) {}

  /** CPU seconds the worker processes used so far (null when unknown). */
  cpu(): number | null {
    let sum = 0;
    for (const c of this.procs) {
      const s = c.pid === undefined ? null : cpuSeconds(c.pid);
      if (s === null) return null;
      sum += s;
    }
    return sum;
  }

  start(n: number): void {
    const main = import.meta.url.endsWith('.ts')
      ? ['--import', import.meta.resolve('tsx'), path.join(ROOT, 'engine', 'cli', 'main.ts')]
      : [path.join(ROOT, 'engine', 'cli', 'main.js')];
    for (let i = 0; i < n; i++) {
      this.procs.push(
        spawn(process.execPath, [...main, 'worker', '--concurrency', String(CONCURRENCY)], {
          cwd: this.project,
          env: {
            ...process.env,
            SLUICE_HOME: path.join(this.project, '.sluice'),
            SLUICE_STATE: this.url,
            SLUICE_HOSTNAME: `bench-${i}`,
          },
          stdio: 'ignore',
        }),
      );
    }
  }

  async stop(): Promise<void> {
    const all = this.procs.splice(0);
    await Promise.all(
      all.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => (c.once('exit', r), c.kill('SIGTERM'))))),
    );
  }
}

/** Waits until every task instance of these runs succeeded (or throws after 10 minutes). */
async function allDone(db: pg.Client, runIds: string[], n: number): Promise<void> {
  const end = Date.now() + 600_000;
  for (;;) {
    const { rows } = await db.query<{ n: string; bad: string }>(
      `SELECT count(*) FILTER (WHERE state = 'success') AS n, count(*) FILTER (WHERE state = 'failed') AS bad
       FROM task_instances WHERE run_id = ANY($1)`,
      [runIds],
    );
    if (Number(rows[0]!.bad) > 0) throw new Error(`${rows[0]!.bad} bench tasks failed`);
    if (Number(rows[0]!.n) >= n) return;
    if (Date.now() > end) throw new Error(`timed out: ${rows[0]!.n} of ${n} bench tasks done`);
    await sleep(50);
  }
}

/** Task instances of these runs with more than one try, and the number of tries. */
async function twice(db: pg.Client, runIds: string[]): Promise<{ dup: number; tries: number }> {
  const { rows } = await db.query<{ dup: string; tries: string }>(
    `SELECT count(*) FILTER (WHERE c > 1) AS dup, coalesce(sum(c), 0) AS tries
     FROM (SELECT count(*) AS c FROM task_tries WHERE run_id = ANY($1) GROUP BY run_id, task_id) x`,
    [runIds],
  );
  return { dup: Number(rows[0]!.dup), tries: Number(rows[0]!.tries) };
}

interface ScaleFigures {
  workers: number;
  tasksPerS: number;
  p50: number;
  p99: number;
  dup: number;
  tries: number;
  /** Worker processes' and PostgreSQL's CPU milliseconds per task in the throughput phase (null: unknown). */
  cpuMs: number | null;
}

async function postgresFigure(
  server: PgServer,
  dag: Dag,
  project: string,
  n: number,
): Promise<{ f: ScaleFigures; runLoop?: number }> {
  const url = await createDatabase(server.adminUrl, `bench_scale_${n}`);
  const store = await PostgresStateStore.open(url);
  const db = new pg.Client({ connectionString: url, options: '-c search_path=sluice' });
  await db.connect();
  const workers = new Workers(project, url);
  try {
    // Throughput: the queue full before the workers start.
    const ids = await makeRuns(store, dag, 0, RUNS);
    for (const id of ids) for (const t of dag.order) await store.work.enqueue(id, t, 'default', new Date());
    const before = await backendCpu(db);
    workers.start(n);
    await allDone(db, ids, TASKS * RUNS);
    const after = await backendCpu(db);
    const workersCpu = workers.cpu();
    let serverCpu = 0;
    for (const [pid, s] of after) serverCpu += s - (before.get(pid) ?? 0);
    const cpuMs = workersCpu === null || after.size === 0 ? null : ((workersCpu + serverCpu) * 1000) / (TASKS * RUNS);
    const { rows } = await db.query<{ s: number }>(
      `SELECT extract(epoch FROM max(ended_at) - min(started_at)) AS s FROM task_tries WHERE run_id = ANY($1)`,
      [ids],
    );
    const tasksPerS = (TASKS * RUNS) / Number(rows[0]!.s);

    // Claim latency: idle workers, one task queued at a time.
    const [lat] = await makeRuns(store, dag, RUNS, 1);
    for (const t of dag.order.slice(0, LATENCY_SAMPLES)) {
      await store.work.enqueue(lat!, t, 'default', new Date());
      await sleep(LATENCY_GAP_MS);
    }
    await allDone(db, [lat!], LATENCY_SAMPLES);
    const waits = await db.query<{ ms: number }>(
      `SELECT extract(epoch FROM y.started_at - t.queued_at) * 1000 AS ms
       FROM task_instances t JOIN task_tries y ON y.run_id = t.run_id AND y.task_id = t.task_id WHERE t.run_id = $1`,
      [lat],
    );
    const ms = waits.rows.map((r) => Number(r.ms));

    // The run loop in workers mode (this process plays the scheduler), with 2 workers.
    let runLoop: number | undefined;
    if (n === 2) {
      const [loopRun] = await makeRuns(store, dag, RUNS + 1, 1);
      const t0 = performance.now();
      const state = await executeRun(dag, loopRun!, runnerDeps(store, { executor: 'workers' }));
      if (state !== 'success') throw new Error(`the workers-mode bench run ended ${state}`);
      runLoop = TASKS / ((performance.now() - t0) / 1000);
      ids.push(loopRun!);
    }
    const { dup, tries } = await twice(db, [...ids, lat!]);
    return { f: { workers: n, tasksPerS, p50: pct(ms, 50), p99: pct(ms, 99), dup, tries, cpuMs }, runLoop };
  } finally {
    await workers.stop();
    await db.end();
    await store.close();
    await dropDatabase(server.adminUrl, url).catch(() => undefined);
  }
}

export async function benchScale(): Promise<Record<string, unknown>[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-scale-'));
  let server: PgServer | undefined;
  try {
    const dag = loadDagSource(wideDag(), 'scale.yaml', defaultRegistry());
    fs.mkdirSync(path.join(dir, 'dags'));
    fs.writeFileSync(path.join(dir, 'dags', 'scale.yaml'), wideDag());
    const sqlite = await sqliteFigure(dag, dir);
    if (process.env.SLUICE_TEST_PG_URL) server = { adminUrl: process.env.SLUICE_TEST_PG_URL, stop: () => {} };
    else {
      const bin = findPgBin();
      if (!bin) return [{ note: 'no PostgreSQL server binaries (or SLUICE_TEST_PG_URL): scale bench skipped' }];
      server = await startPrivatePostgres(bin);
    }
    const rows: Record<string, unknown>[] = [{ setup: `SQLite, one process, local executor`, 'tasks/s': sqlite.toFixed(0) }];
    let runLoop: number | undefined;
    for (const n of [1, 2, 4]) {
      const r = await postgresFigure(server, dag, dir, n);
      runLoop ??= r.runLoop;
      const { f } = r;
      rows.push({
        setup: `PostgreSQL, ${n} worker process${n > 1 ? 'es' : ''} x ${CONCURRENCY}`,
        'tasks/s': f.tasksPerS.toFixed(0),
        'vs SQLite': (f.tasksPerS / sqlite).toFixed(2),
        ...(f.cpuMs !== null ? { 'CPU ms/task': f.cpuMs.toFixed(2) } : {}),
        'claim p50 ms': f.p50.toFixed(1),
        'claim p99 ms': f.p99.toFixed(1),
        'tries/task > 1': `${f.dup} (${f.tries} tries)`,
        ...(n === 2
          ? { 'target >= 500 tasks/s': f.tasksPerS >= 500 ? 'yes' : 'NO', 'target p99 <= 50 ms': f.p99 <= 50 ? 'yes' : 'NO' }
          : {}),
        'no task run twice': f.dup === 0 ? 'yes' : 'NO',
      });
    }
    if (runLoop !== undefined)
      rows.push({ setup: `run loop in workers mode, 2 workers, one ${TASKS}-task run`, 'tasks/s': runLoop.toFixed(0) });
    rows.push({
      note: `${RUNS} runs x ${TASKS} Empty tasks queued before the workers start; claim latency over ${LATENCY_SAMPLES} tasks queued every ${LATENCY_GAP_MS} ms to idle workers; ${os.cpus().length} cores`,
    });
    return rows;
  } finally {
    server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
