/**
 * Staging benchmark: Sparkify events from a generated lake into
 * staging_events (jsonpaths + epochmillisecs), on PGlite and on a
 * PostgreSQL server, each next to baselines measured in the same run:
 *
 * - floor: COPY of the very same rows, already converted to CSV (converted
 *   outside the timing), into the same emptied table, in the same chunks
 *   the loader uses — what the database alone costs. Target: ours ≤ 1.5× it.
 * - row-at-a-time INSERT: one autocommitted INSERT with bound parameters per
 *   event, as the typical Udacity solution does, timed on a sample and
 *   extrapolated. Target: ours ≥ 20× faster.
 * - memory: the staging of N/10 and of N events, each in a child process,
 *   compared by peak RSS. Target: about flat.
 * - event-loop delay of this (main) thread during our load
 *   (perf_hooks.monitorEventLoopDelay, max and p99): PGlite in its worker
 *   thread (the default) next to PGlite on this thread (`?thread=main`).
 *
 * Environment: BENCH_EVENTS (default 1,000,000), BENCH_INSERT_SAMPLE
 * (20,000), BENCH_ROUNDS (2: ours and floor alternate, best of each kept),
 * SLUICE_BENCH_PG_URL or SLUICE_TEST_PG_URL (else a private server is
 * started when PostgreSQL is installed; SLUICE_SKIP_PG=1 skips it).
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { PGlite } from '@electric-sql/pglite';
import { openWarehouse } from '../engine/connections/index.js';
import { loadJsonLocally } from '../engine/connections/copy-json/json-load.js';
import { PGLITE_CHUNK_BYTES, PGLITE_CHUNK_ROWS } from '../engine/connections/warehouse/pglite/pglite.js';
import { PG_CHUNK_BYTES, PG_CHUNK_ROWS } from '../engine/connections/warehouse/postgres.js';
import type { Warehouse } from '../engine/interfaces.js';
import { EVENT_KEYS, generateSampleLake } from '../sample/generate.js';
import { eventsSpec, mb, resetStaging, STAGING_EVENTS_COLUMNS } from './load-shared.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const INSERT_SAMPLE = Number(process.env.BENCH_INSERT_SAMPLE ?? 20_000);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const EVENTS_PER_DAY = 20_000;

type Row = Record<string, unknown>;

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const secs = (ms: number) => (ms / 1000).toFixed(2);

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
}

/** A generated lake of about `events` events (cached under the OS temp dir by size). */
async function lakeOf(events: number): Promise<{ dir: string; events: number; bytes: number }> {
  const days = Math.max(1, Math.round(events / EVENTS_PER_DAY));
  const perDay = Math.ceil(events / days);
  const songs = Math.min(10_000, Math.max(200, Math.round(events / 200)));
  const dir = path.join(os.tmpdir(), `sluice-bench-lake-${days}x${perDay}-s${songs}`);
  const marker = path.join(dir, 'DONE.json');
  if (fs.existsSync(marker)) return JSON.parse(fs.readFileSync(marker, 'utf8')) as { dir: string; events: number; bytes: number };
  const res = await generateSampleLake({ out: dir, days, eventsPerDay: perDay, songs, seed: 2018, clean: true });
  const info = { dir, events: res.events, bytes: res.bytes };
  fs.writeFileSync(marker, JSON.stringify(info));
  return info;
}

/** The loader's CSV for the lake, in the loader's own chunks, converted once (outside any timing). */
async function preconvert(wh: Warehouse, lake: string, chunkRows: number, chunkBytes: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  await resetStaging(wh);
  await loadJsonLocally(
    {
      query: (sql, params) => wh.query(sql, params),
      chunkRows,
      chunkBytes,
      openSink: async () => ({
        write: async (csv) => {
          chunks.push(csv);
        },
        finish: async () => {},
        abort: async () => {},
      }),
    },
    eventsSpec(lake),
  );
  return chunks;
}

/** The first `n` events of the lake as parameter arrays (JSON values in column order). */
function sampleEvents(lake: string, n: number): unknown[][] {
  const out: unknown[][] = [];
  const dir = path.join(lake, 'log_data');
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else files.push(path.join(d, e.name));
    }
  };
  walk(dir);
  for (const f of files) {
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const ev = JSON.parse(line) as Record<string, unknown>;
      out.push(EVENT_KEYS.map((k) => (ev[k] === '' && k !== 'userId' ? null : (ev[k] ?? null))));
      if (out.length >= n) return out;
    }
  }
  return out;
}

const INSERT_SQL = `INSERT INTO staging_events ${STAGING_EVENTS_COLUMNS} VALUES (${EVENT_KEYS.map((_, i) => `$${i + 1}`).join(', ')})`;

/** One autocommitted INSERT per event, through the warehouse's query(): rows/s. */
async function rowAtATime(wh: Warehouse, sample: unknown[][]): Promise<number> {
  await resetStaging(wh);
  const t = performance.now();
  for (const params of sample) await wh.query(INSERT_SQL, params);
  return (sample.length / (performance.now() - t)) * 1000;
}

/** Runs the staging of a lake in a child process; its peak RSS. */
function childStaging(lake: string, url: string): Promise<{ rows: number; ms: number; maxRssMB: number; rssBeforeMB: number }> {
  return new Promise((resolve, reject) => {
    // Compiled (npm run bench) or from the sources through tsx.
    const args = import.meta.url.endsWith('.ts')
      ? ['--import', import.meta.resolve('tsx'), path.join(here, 'load-child.ts')]
      : [path.join(here, 'load-child.js')];
    const child = spawn(process.execPath, [...args, lake, url], {
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: path.resolve(here, '..'),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`load-child exited ${code}: ${err || out}`));
      else resolve(JSON.parse(line) as { rows: number; ms: number; maxRssMB: number; rssBeforeMB: number });
    });
  });
}

/** One way of opening the target's warehouse (a URL suffix), measured side by side. */
interface Variant {
  label: string;
  suffix: string;
}

interface Target {
  name: 'pglite' | 'postgres';
  /** Ways to open it (the first is the default the ratios use). */
  variants: Variant[];
  /** A fresh warehouse URL (each call a new database). */
  freshUrl(label: string): Promise<string>;
  /** COPY of pre-converted CSV chunks into staging_events (the floor). */
  floor(url: string, chunks: Buffer[]): Promise<number>;
  chunk: { rows: number; bytes: number };
}

async function pgliteFloor(url: string, chunks: Buffer[]): Promise<number> {
  const db = new PGlite(url.replace(/^pglite:\/\//, ''));
  try {
    await db.exec('TRUNCATE staging_events');
    const sql = `COPY staging_events ${STAGING_EVENTS_COLUMNS} FROM '/dev/blob' WITH (FORMAT csv)`;
    const [, ms] = await timed(() =>
      db.transaction(async (tx) => {
        for (const c of chunks) await tx.query(sql, [], { blob: new Blob([c]) });
      }),
    );
    return ms;
  } finally {
    await db.close();
  }
}

async function postgresFloor(url: string, chunks: Buffer[]): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('TRUNCATE staging_events');
    const [, ms] = await timed(async () => {
      await client.query('BEGIN');
      await pipeline(
        Readable.from(chunks),
        client.query(copyStreams.from(`COPY staging_events ${STAGING_EVENTS_COLUMNS} FROM STDIN WITH (FORMAT csv)`)),
      );
      await client.query('COMMIT');
    });
    return ms;
  } finally {
    await client.end();
  }
}

/** Resolution of the event-loop delay histogram, ms. */
const EL_RESOLUTION_MS = 2;

interface Measured {
  ms: number;
  rows: number;
  /** Event-loop delay on this thread during the load, ms. */
  elMax: number;
  elP99: number;
  /** What the load's closing ANALYZE costs (timed again after it, on the same rows), ms. */
  analyzeMs: number;
}

/** Our load into a fresh staging_events, timed, with this thread's event-loop delay. */
async function measureOurs(wh: Warehouse, lake: string): Promise<Measured> {
  await resetStaging(wh);
  const h = monitorEventLoopDelay({ resolution: EL_RESOLUTION_MS });
  h.enable();
  try {
    const [res, ms] = await timed(() => wh.loadJson(eventsSpec(lake)));
    h.disable();
    const [, analyzeMs] = await timed(() =>
      wh.transaction(async (tx) => {
        await tx.query('SET LOCAL default_statistics_target = 10'); // as the loader does
        await tx.query('ANALYZE staging_events');
      }),
    );
    return { ms, rows: res.rows, elMax: h.max / 1e6, elP99: h.percentile(99) / 1e6, analyzeMs };
  } finally {
    h.disable();
  }
}

async function benchTarget(
  t: Target,
  lake: { dir: string; events: number },
  small: { dir: string; events: number },
): Promise<Row[]> {
  const rows: Row[] = [];
  const url = await t.freshUrl('main');
  const best = new Map<string, Measured>();
  let floorMs = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of t.variants) {
      // PGlite allows one instance per data dir: each warehouse is closed before the next (and the floor) opens it.
      const wh = await openWarehouse(url + v.suffix, { home: os.tmpdir() });
      try {
        const m = await measureOurs(wh, lake.dir);
        const prev = best.get(v.label);
        if (!prev || m.ms < prev.ms) best.set(v.label, m);
      } finally {
        await wh.close();
      }
    }
    // The pre-converted CSV (hundreds of MB) exists only while the floor is
    // timed, so it never burdens the garbage collector during our own load.
    const wh = await openWarehouse(url, { home: os.tmpdir() });
    let chunks: Buffer[] = [];
    try {
      chunks = await preconvert(wh, lake.dir, t.chunk.rows, t.chunk.bytes);
    } finally {
      await wh.close();
    }
    floorMs = Math.min(floorMs, await t.floor(url, chunks));
  }
  const loaded = best.get(t.variants[0]!.label)!.rows;
  for (const v of t.variants) {
    const m = best.get(v.label)!;
    rows.push({
      warehouse: t.name,
      measure: `ours: loadJson (jsonpaths + epochmillisecs)${v.label ? `, ${v.label}` : ''}`,
      rows: fmt(m.rows),
      seconds: secs(m.ms),
      'rows/s': fmt((m.rows / m.ms) * 1000),
      'ours/floor time': `${(m.ms / floorMs).toFixed(2)}x (target <= 1.5)`,
      // the floor is COPY alone; the load also runs ANALYZE (like Redshift's STATUPDATE)
      'of which ANALYZE': `${secs(m.analyzeMs)} s (without it ${((m.ms - m.analyzeMs) / floorMs).toFixed(2)}x)`,
      'event-loop delay here (max / p99)': `${m.elMax.toFixed(0)} / ${m.elP99.toFixed(0)} ms`,
    });
  }
  const oursMs = best.get(t.variants[0]!.label)!.ms;
  const insertWh = await openWarehouse(await t.freshUrl('insert'), { home: os.tmpdir() });
  let insertRate: number;
  try {
    insertRate = await rowAtATime(insertWh, sampleEvents(lake.dir, INSERT_SAMPLE));
  } finally {
    await insertWh.close();
  }
  const ours = (loaded / oursMs) * 1000;
  const floor = (loaded / floorMs) * 1000;
  rows.push({
    warehouse: t.name,
    measure: 'floor: COPY of the same rows pre-converted to CSV',
    rows: fmt(loaded),
    seconds: secs(floorMs),
    'rows/s': fmt(floor),
  });
  rows.push({
    warehouse: t.name,
    measure: `row-at-a-time INSERT (one autocommitted INSERT per event), ${fmt(INSERT_SAMPLE)}-row sample, extrapolated`,
    'rows/s': fmt(insertRate),
    [`est. seconds for ${fmt(loaded)}`]: secs((loaded / insertRate) * 1000),
  });
  rows.push({
    warehouse: t.name,
    'ours/floor time': `${(oursMs / floorMs).toFixed(2)}x (target <= 1.5)${t.variants[0]!.label ? `, ${t.variants[0]!.label}` : ''}`,
    'speedup vs row-at-a-time': `${(ours / insertRate).toFixed(0)}x (target >= 20)`,
    'peak RSS of this process': `${mb(process.resourceUsage().maxRSS)} MB`,
  });
  // Memory: N/10 and N events, each staged in a fresh child process.
  const a = await childStaging(small.dir, await t.freshUrl('rss-small'));
  const b = await childStaging(lake.dir, await t.freshUrl('rss-large'));
  rows.push({
    warehouse: t.name,
    'peak RSS, N/10 events': `${a.maxRssMB} MB (${fmt(a.rows)} rows; ${a.rssBeforeMB} MB before loading)`,
    'peak RSS, N events': `${b.maxRssMB} MB (${fmt(b.rows)} rows; ${b.rssBeforeMB} MB before loading)`,
    ratio: `${(b.maxRssMB / a.maxRssMB).toFixed(2)}x for 10x the rows (target ~1)`,
  });
  return rows;
}

/** The PostgreSQL server to use: a URL from the environment, or a private server, or null (with the reason). */
async function postgresServer(): Promise<{ adminUrl: string; stop(): void } | string> {
  const fromEnv = process.env.SLUICE_BENCH_PG_URL ?? process.env.SLUICE_TEST_PG_URL;
  if (fromEnv) return { adminUrl: fromEnv, stop: () => {} };
  if (process.env.SLUICE_SKIP_PG === '1') return 'SLUICE_SKIP_PG=1';
  const { findPgBin, startPrivatePostgres } = await import('../test/helpers/postgres.js');
  const bin = findPgBin();
  if (!bin) return 'no PostgreSQL binaries (set SLUICE_BENCH_PG_URL, or install postgresql)';
  return startPrivatePostgres(bin);
}

export async function benchLoad(): Promise<Row[]> {
  const rows: Row[] = [];
  const [lake, gen] = await timed(() => lakeOf(N));
  const small = await lakeOf(Math.max(1, Math.round(N / 10)));
  rows.push({
    lake: lake.dir,
    events: fmt(lake.events),
    'MB on disk': Math.round(lake.bytes / 1e6),
    'generated/reused in s': secs(gen),
    'N/10 lake events': fmt(small.events),
  });

  // PostgreSQL first: measured in this process before PGlite's heap (about
  // 1 GB, in this process with ?thread=main) makes every later GC slower.
  const postgres = async () => {
    const server = await postgresServer().catch((err: Error) => `could not start PostgreSQL: ${err.message}`);
    if (typeof server === 'string') {
      process.stdout.write(`(PostgreSQL part skipped: ${server})\n`);
      rows.push({ warehouse: 'postgres', skipped: server });
      return;
    }
    const { createDatabase, dropDatabase } = await import('../test/helpers/postgres.js');
    const dbs: string[] = [];
    try {
      rows.push(
        ...(await benchTarget(
          {
            name: 'postgres',
            variants: [{ label: '', suffix: '' }],
            freshUrl: async (label) => {
              const url = await createDatabase(server.adminUrl, `bench_${label}`);
              dbs.push(url);
              return url;
            },
            floor: postgresFloor,
            chunk: { rows: PG_CHUNK_ROWS, bytes: PG_CHUNK_BYTES },
          },
          lake,
          small,
        )),
      );
    } finally {
      for (const db of dbs) await dropDatabase(server.adminUrl, db).catch(() => {});
      server.stop();
    }
  };
  const pglite = async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-load-'));
    let n = 0;
    try {
      rows.push(
        ...(await benchTarget(
          {
            name: 'pglite',
            variants: [
              { label: 'PGlite in a worker thread (default)', suffix: '' },
              { label: 'PGlite on this thread (?thread=main)', suffix: '?thread=main' },
            ],
            freshUrl: async (label) => `pglite://${path.join(scratch, `${label}-${++n}`)}`,
            floor: pgliteFloor,
            chunk: { rows: PGLITE_CHUNK_ROWS, bytes: PGLITE_CHUNK_BYTES },
          },
          lake,
          small,
        )),
      );
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  };
  await postgres();
  await pglite();
  return rows;
}
