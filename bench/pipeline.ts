/**
 * The songplays DAG end to end through the real runner and state store, on
 * one generated day of N events (BENCH_PIPELINE_EVENTS, default 1,000,000),
 * on PGlite and on PostgreSQL: rows/s of staging, of the star-schema load
 * (load_songplays through load_time) and end to end. The staging floor (COPY
 * of the same rows as CSV) and the row-at-a-time baseline are in bench/load.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSampleLake } from '../sample/generate.js';
import { PACKAGE_ROOT } from '../engine/config.js';
import { createConnectionResolver } from '../engine/connections/index.js';
import { loadDagFile } from '../engine/dag/index.js';
import { defaultRegistry } from '../operators/index.js';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import { executeRun } from '../engine/run/runner.js';
import { Runs } from '../engine/run/runs.js';
import { createSinkLogger, TaskLogSink } from '../engine/log.js';
import type { Warehouse } from '../engine/interfaces.js';

/** The package folder (dags/, sql/), from the sources or from .bench-dist/ alike. */
const ROOT = PACKAGE_ROOT;
const N = Number(process.env.BENCH_PIPELINE_EVENTS ?? 1_000_000);
const DAY = new Date('2018-11-01T00:00:00Z');

async function lake(): Promise<string> {
  const dir = path.join(os.tmpdir(), `sluice-bench-pipeline-${N}`);
  if (!fs.existsSync(path.join(dir, 'log_data'))) {
    await generateSampleLake({ out: dir, days: 1, eventsPerDay: N, songs: 5000, seed: 3, clean: true });
  }
  return dir;
}

export async function benchPipeline(): Promise<Record<string, unknown>[]> {
  const lakeDir = await lake();
  const rows: Record<string, unknown>[] = [];
  const targets: { name: string; url: () => Promise<{ url: string; done: () => Promise<void> }> }[] = [];
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-pipeline-run-'));
  targets.push({ name: 'pglite', url: async () => ({ url: `pglite://${path.join(scratch, 'wh')}`, done: async () => {} }) });
  if (process.env.SLUICE_SKIP_PG !== '1') {
    targets.push({
      name: 'postgres',
      url: async () => {
        const { findPgBin, startPrivatePostgres, createDatabase } = await import('../test/helpers/postgres.js');
        const given = process.env.SLUICE_BENCH_PG_URL ?? process.env.SLUICE_TEST_PG_URL;
        if (given) return { url: await createDatabase(given, 'bench_pipeline'), done: async () => {} };
        const bin = findPgBin();
        if (!bin) throw new Error('no PostgreSQL binaries');
        const srv = await startPrivatePostgres(bin);
        return { url: await createDatabase(srv.adminUrl, 'bench_pipeline'), done: async () => srv.stop() };
      },
    });
  }
  try {
    for (const t of targets) {
      let target: { url: string; done: () => Promise<void> };
      try {
        target = await t.url();
      } catch (err) {
        rows.push({ warehouse: t.name, skipped: (err as Error).message });
        continue;
      }
      try {
        rows.push(await runOnce(t.name, target.url, lakeDir, path.join(scratch, t.name)));
      } finally {
        await target.done();
      }
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}

async function runOnce(name: string, warehouseUrl: string, lakeDir: string, home: string): Promise<Record<string, unknown>> {
  fs.mkdirSync(home, { recursive: true });
  const registry = defaultRegistry();
  const dag = loadDagFile(path.join(ROOT, 'dags', 'songplays.yaml'), registry);
  const store = new SqliteStateStore(path.join(home, 'state.db'));
  const connections = createConnectionResolver({ warehouse: warehouseUrl, lake: lakeDir }, { home });
  try {
    // One try per task: a failure fails the bench at once instead of waiting out the DAG's retry_delay.
    const run = (await new Runs(store).createRun({
      dag,
      interval: { start: DAY, end: new Date(DAY.getTime() + 86_400_000) },
      runType: 'manual',
      maxTries: 1,
    }))!;
    const t0 = performance.now();
    const state = await executeRun(dag, run.runId, {
      store,
      registry,
      connections,
      logger: createSinkLogger(new TaskLogSink(store.logs, null)),
      parallelism: 8,
      resolvePath: (p) => path.resolve(ROOT, p),
    });
    const totalMs = performance.now() - t0;
    if (state !== 'success') throw new Error(`the songplays run on ${name} ended ${state}`);
    const tries = new Map((await store.tasks.tries(run.runId)).map((t) => [t.taskId, t]));
    const span = (ids: string[]) => {
      const ts = ids.map((id) => tries.get(id)!);
      return Math.max(...ts.map((t) => t.endedAt!.getTime())) - Math.min(...ts.map((t) => t.startedAt.getTime()));
    };
    const stageMs = tries.get('stage_events')!.durationMs!;
    const starMs = span(['load_songplays', 'load_users', 'load_songs', 'load_artists', 'load_time']);
    const staged = ((await store.tasks.latestOutputs(run.runId)).get('stage_events')?.outputs.rows_loaded as number) ?? N;
    const wh: Warehouse = await connections.warehouse();
    const facts = (await wh.query<{ n: number }>('SELECT count(*) AS n FROM songplays')).rows[0]!.n;
    return {
      warehouse: name,
      events: staged.toLocaleString('en-US'),
      songplays: Number(facts).toLocaleString('en-US'),
      'stage_events s': (stageMs / 1000).toFixed(2),
      'staging rows/s': Math.round((staged / stageMs) * 1000).toLocaleString('en-US'),
      'star schema s': (starMs / 1000).toFixed(2),
      'star schema facts/s': Math.round((Number(facts) / starMs) * 1000).toLocaleString('en-US'),
      'end to end s': (totalMs / 1000).toFixed(2),
      'end to end events/s': Math.round((staged / totalMs) * 1000).toLocaleString('en-US'),
      'peak RSS MB': Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await connections.closeAll();
    await store.close();
  }
}
