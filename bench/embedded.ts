/**
 * The embedded path as a new user meets it: `run-dag songplays --date
 * 2018-11-21` through the built CLI, on the real Sparkify sample
 * (../shared/data/sparkify beside the project, or SLUICE_SPARKIFY_DIR) and an
 * existing PGlite warehouse (the first run creates it; the measured runs
 * rerun the day on it).
 *
 * Printed per measured run (medians of RUNS): wall and CPU time of the
 * command, the sum of its task durations (task_tries.duration_ms, read from
 * the state DB read-only), the floor measured in the same run — a bare
 * process that opens the same PGlite data dir and runs one query, once as
 * PGlite comes and once with the V8 setting Sluice's PGlite worker applies
 * (PGLITE_V8_FLAGS, which makes the open itself faster) — and stage_events
 * beside the same rows COPYed directly into PGlite (staging_events exported
 * as CSV after the run, then `COPY ... FROM '/dev/blob'` into it on an open
 * PGlite, as the loader's last step does).
 *
 * stage_events is compared by its own load: the operator's transaction
 * (DELETE, load, ANALYZE) run on an open warehouse after the runs. Its task
 * duration is printed too, but it mostly measures a wait: stage_events and
 * stage_songs start together and share PGlite's single session, and
 * stage_songs' load (71 files) usually holds it first.
 *
 * Targets: the command's wall time outside PGlite's own open (wall minus the
 * faster of the two floors' open + query) ≤ 0.5 s; stage_events' own load
 * ≤ 2× the direct COPY.
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import { openObjectStore, openWarehouse, readJsonPathsFile } from '../engine/connections/index.js';
import { PGLITE_V8_FLAGS } from '../engine/connections/warehouse/pglite/pglite-worker-core.js';
import type { JsonLoadSpec } from '../engine/interfaces.js';

function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
const ROOT = packageRoot();
const RUN_DAG = path.join(ROOT, 'dist', 'engine', 'cli', 'run-dag.js');
const SPARKIFY = process.env.SLUICE_SPARKIFY_DIR ?? path.resolve(ROOT, '..', 'shared', 'data', 'sparkify');
const RUNS = Number(process.env.BENCH_EMBEDDED_RUNS ?? 5);
const DATE = '2018-11-21';
const RUN_ID = `songplays__manual__${DATE}T00:00:00Z`;

interface Timed {
  wallMs: number;
  cpuMs: number;
  stdout: string;
}

function quote(a: string): string {
  return `'${a.replace(/'/g, `'\\''`)}'`;
}

/** Runs argv under bash, returning its wall and CPU time (children's user + system, from `times`). */
function timed(argv: string[], cwd: string, env: NodeJS.ProcessEnv): Timed {
  const out = path.join(env.SLUICE_HOME!, '..', 'bench-out.txt');
  const script = `${argv.map(quote).join(' ')} >${quote(out)} 2>&1 || { cat ${quote(out)} >&2; exit 3; }; times`;
  const started = process.hrtime.bigint();
  const r = spawnSync('bash', ['-c', script], { cwd, env, encoding: 'utf8' });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  const kids = lines[lines.length - 1]!.match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  if (!kids) throw new Error(`cannot read CPU times from: ${r.stdout}`);
  const cpuMs = (Number(kids[1]) * 60 + Number(kids[2]) + Number(kids[3]) * 60 + Number(kids[4])) * 1000;
  return { wallMs, cpuMs, stdout: fs.readFileSync(out, 'utf8') };
}

/** Each task's duration in the latest try of the run (state DB opened read-only). */
function taskDurations(stateDb: string): Map<string, number> {
  const db = new Database(stateDb, { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT task_id, duration_ms FROM task_tries
          WHERE try_id IN (SELECT max(try_id) FROM task_tries WHERE run_id = ? GROUP BY task_id)`,
      )
      .all(RUN_ID) as { task_id: string; duration_ms: number | null }[];
    return new Map(rows.map((r) => [r.task_id, r.duration_ms ?? 0]));
  } finally {
    db.close();
  }
}

/**
 * A child process that opens the warehouse's data dir with PGlite and runs
 * one query (the floor of any command using it), and, when `copy` is given,
 * COPYs that CSV into staging_events (in a transaction rolled back, as often
 * as needed for a stable time). Prints its own timings as JSON.
 */
const FLOOR_SCRIPT = `
const [dataDir, csvFile, v8Flags] = process.argv.slice(1);
if (v8Flags) (await import('node:v8')).setFlagsFromString(v8Flags);
const t0 = performance.now();
const { PGlite } = await import('@electric-sql/pglite');
const fs = await import('node:fs');
const t1 = performance.now();
const db = new PGlite(dataDir);
await db.waitReady;
await db.query('SELECT 1');
const t2 = performance.now();
const out = { importMs: t1 - t0, openQueryMs: t2 - t1 };
if (csvFile !== '-') {
  const csv = fs.readFileSync(csvFile);
  const times = [];
  for (let i = 0; i < 5; i++) {
    await db.exec('BEGIN');
    await db.exec('TRUNCATE staging_events');
    const s = performance.now();
    await db.query("COPY staging_events FROM '/dev/blob' WITH (FORMAT csv)", [], { blob: new Blob([csv]) });
    times.push(performance.now() - s);
    await db.exec('ROLLBACK');
  }
  times.sort((a, b) => a - b);
  out.copyMs = times[2];
}
await db.close();
process.stdout.write(JSON.stringify(out) + '\\n');
`;

function floor(dataDir: string, csvFile: string | null, v8Flags: string, cwd: string, env: NodeJS.ProcessEnv) {
  const t = timed([process.execPath, '--input-type=module', '-e', FLOOR_SCRIPT, dataDir, csvFile ?? '-', v8Flags], cwd, env);
  const own = JSON.parse(t.stdout.trim().split('\n').pop()!) as { importMs: number; openQueryMs: number; copyMs?: number };
  return { ...own, wallMs: t.wallMs, cpuMs: t.cpuMs };
}

/** staging_events as CSV, as the loader hands it to COPY (exported from the warehouse after a run). */
function exportStagingEvents(dataDir: string, csvFile: string, cwd: string, env: NodeJS.ProcessEnv): number {
  const script = `
const { PGlite } = await import('@electric-sql/pglite');
const fs = await import('node:fs');
const db = new PGlite(process.argv[1]);
const r = await db.query("COPY staging_events TO '/dev/blob' WITH (FORMAT csv)");
fs.writeFileSync(process.argv[2], Buffer.from(await r.blob.arrayBuffer()));
const n = await db.query('SELECT count(*)::int AS n FROM staging_events');
process.stdout.write(String(n.rows[0].n) + '\\n');
await db.close();
`;
  const t = timed([process.execPath, '--input-type=module', '-e', script, dataDir, csvFile], cwd, env);
  return Number(t.stdout.trim().split('\n').pop());
}

/**
 * stage_events' own load, without the task around it: on the warehouse
 * opened as Sluice opens it (PGlite in its worker), the same transaction the
 * operator runs (DELETE, then the COPY JSON emulation of the day's event file
 * with the DAG's JSONPaths and TIMEFORMAT, then its ANALYZE), LOADS times.
 * The task's own duration also holds its wait for the single PGlite session,
 * which stage_songs holds first (they start together), and the task's
 * bookkeeping; this measures what the loader itself adds to the COPY.
 */
async function ownLoad(dataDir: string): Promise<{ firstMs: number; medianMs: number; rows: number }> {
  const text = fs.readFileSync(path.join(ROOT, 'sql', 'log_json_path.json'), 'utf8');
  const paths = readJsonPathsFile(text, 'log_json_path.json');
  if (paths.kind !== 'jsonpaths') throw new Error('sql/log_json_path.json: expected a jsonpaths file');
  const wh = await openWarehouse(`pglite://${dataDir}`, { home: ROOT });
  try {
    const spec: JsonLoadSpec = {
      table: 'staging_events',
      store: await openObjectStore(SPARKIFY, { home: ROOT }),
      source: `log_data/${DATE.slice(0, 4)}/${DATE.slice(5, 7)}/${DATE}-events.json`,
      mapping: { kind: 'jsonpaths', paths: paths.paths, file: 'log_json_path.json' },
      timeformat: 'epochmillisecs',
      maxerror: 0,
    };
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 6; i++) {
      const t = performance.now();
      const r = await wh.transaction(async (tx) => {
        await tx.query('DELETE FROM staging_events');
        return tx.loadJson(spec);
      });
      times.push(performance.now() - t);
      rows = r.rows;
    }
    return { firstMs: times[0]!, medianMs: median(times.slice(1)), rows };
  } finally {
    await wh.close();
  }
}

/**
 * What storing a try's check results costs (issue 8's "storing adds <= 5% to the quality task"): the last run's
 * quality try's results, as the run loop stored them, recorded again through the state API (which replaces them).
 */
async function qualityStoringCost(stateDb: string): Promise<{ checks: number; recordMs: number }> {
  const store = new SqliteStateStore(stateDb);
  try {
    const [t] = (await store.tasks.tries(RUN_ID, 'quality')).slice(-1);
    if (!t) throw new Error(`no quality try in ${RUN_ID}`);
    const checks = (await store.quality.forRun(RUN_ID)).filter((c) => c.taskId === 'quality');
    const run = (await store.runs.get(RUN_ID))!;
    const times: number[] = [];
    for (let i = 0; i < 21; i++) {
      const started = performance.now();
      await store.quality.record(t, { dagId: run.dagId, logicalDate: run.logicalDate, checks, rowCounts: [], now: new Date() });
      if (i > 0) times.push(performance.now() - started); // the first prepares the statements
    }
    return { checks: checks.length, recordMs: median(times) };
  } finally {
    await store.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

export async function benchEmbedded(): Promise<Record<string, unknown>[]> {
  if (!fs.existsSync(path.join(SPARKIFY, 'log_data'))) {
    return [{ skipped: `no real Sparkify sample at ${SPARKIFY} (set SLUICE_SPARKIFY_DIR)` }];
  }
  if (!fs.existsSync(RUN_DAG)) throw new Error(`${RUN_DAG} is missing: run npm run build first`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-embedded-'));
  const home = path.join(work, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_HOME: home, SLUICE_CONN_LAKE: SPARKIFY, NO_COLOR: '1' };
  delete env.SLUICE_CONFIG;
  delete env.SLUICE_PLUGINS;
  delete env.SLUICE_CONN_WAREHOUSE;
  const dataDir = path.join(home, 'warehouse');
  const stateDb = path.join(home, 'state.db');
  const argv = [process.execPath, RUN_DAG, '--dags-dir', path.join(ROOT, 'dags'), 'songplays', '--date', DATE];
  // Every child runs in the package folder, so that the scripts given with -e resolve @electric-sql/pglite.
  try {
    // The first run creates the warehouse (and the state DB): not measured.
    timed(argv, ROOT, env);
    const csv = path.join(work, 'staging_events.csv');
    const events = exportStagingEvents(dataDir, csv, ROOT, env);

    const runs: { wall: number; cpu: number; sum: number; createTables: number; stageEvents: number; quality: number }[] = [];
    const floors: ReturnType<typeof floor>[] = [];
    const tunedFloors: ReturnType<typeof floor>[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = timed([...argv, '--rerun'], ROOT, env);
      const d = taskDurations(stateDb);
      runs.push({
        wall: r.wallMs,
        cpu: r.cpuMs,
        sum: [...d.values()].reduce((a, b) => a + b, 0),
        createTables: d.get('create_tables') ?? NaN,
        stageEvents: d.get('stage_events') ?? NaN,
        quality: d.get('quality') ?? NaN,
      });
      floors.push(floor(dataDir, csv, '', ROOT, env));
      tunedFloors.push(floor(dataDir, null, PGLITE_V8_FLAGS, ROOT, env));
    }
    const own = await ownLoad(dataDir);
    const storing = await qualityStoringCost(stateDb);
    const m = (f: (r: (typeof runs)[number]) => number) => median(runs.map(f));
    const fl = (f: (r: (typeof floors)[number]) => number) => median(floors.map(f));
    const tfl = (f: (r: (typeof floors)[number]) => number) => median(tunedFloors.map(f));
    const wall = m((r) => r.wall);
    // Sluice's PGlite runs with PGLITE_V8_FLAGS, which make the open itself faster: the time outside the open is
    // the wall time minus the open as Sluice does it (the larger of the two remainders: the honest one).
    const openFloor = Math.min(
      fl((f) => f.openQueryMs),
      tfl((f) => f.openQueryMs),
    );
    const outside = wall - openFloor;
    const stage = m((r) => r.stageEvents);
    const copy = fl((f) => f.copyMs ?? NaN);
    return [
      {
        measured: `run-dag songplays --date ${DATE} --rerun (${events} staged events), median of ${RUNS}`,
        wall: ms(wall),
        CPU: ms(m((r) => r.cpu)),
        'sum of task durations': ms(m((r) => r.sum)),
        create_tables: ms(m((r) => r.createTables)),
        stage_events: ms(stage),
      },
      {
        measured: 'floor: a bare process opening the same PGlite data dir + SELECT 1',
        'open + query': ms(fl((f) => f.openQueryMs)),
        [`open + query with ${PGLITE_V8_FLAGS} (as Sluice's worker)`]: ms(tfl((f) => f.openQueryMs)),
        'PGlite import': ms(fl((f) => f.importMs)),
        'process wall': ms(tfl((f) => f.wallMs)),
        'process CPU': ms(tfl((f) => f.cpuMs)),
      },
      {
        measured: `stage_events' own load (DELETE + load + ANALYZE in one transaction, ${own.rows} rows) on an open warehouse`,
        'first in the session': ms(own.firstMs),
        'median of the next 5': ms(own.medianMs),
        'direct COPY of the same rows (CSV)': ms(copy),
      },
      {
        measured: `storing the quality task's check results (${storing.checks} checks) when its try ends, median of 20`,
        'store.quality.record': ms(storing.recordMs),
        'the quality task': ms(m((r) => r.quality)),
      },
      {
        measured: 'targets',
        'wall outside PGlite open (wall - the faster open + query)': `${ms(outside)}  ≤ 500 ms ${outside <= 500 ? 'met' : 'NOT met'}`,
        'storing check results / the quality task': `${ms(storing.recordMs)} / ${ms(m((r) => r.quality))} = ${((100 * storing.recordMs) / m((r) => r.quality)).toFixed(1)}%  ≤ 5% ${storing.recordMs <= 0.05 * m((r) => r.quality) ? 'met' : 'NOT met'}`,
        "stage_events' own load / direct COPY": `${ms(own.medianMs)} / ${ms(copy)} = ${(own.medianMs / copy).toFixed(2)}×  ≤ 2× ${own.medianMs / copy <= 2 ? 'met' : 'NOT met'}`,
        'stage_events task (incl. its wait for the session) / direct COPY': `${ms(stage)} / ${ms(copy)} = ${(stage / copy).toFixed(2)}×`,
      },
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
