/**
 * `npm run bench`: every benchmark, each printed next to baselines measured
 * in the same run. Targets are reported, never asserted in unit tests. It
 * runs compiled (tsconfig.bench.json -> .bench-dist/), as the CLI does from
 * dist/: code loaded through tsx runs measurably slower (more GC).
 * Select with BENCH=engine (comma-separated); default: all.
 */
import { benchEngine } from './engine.js';

const only = (process.env.BENCH ?? '').split(',').filter(Boolean);
const want = (name: string) => only.length === 0 || only.includes(name);

function print(title: string, rows: Record<string, unknown>[]): void {
  process.stdout.write(`\n== ${title}\n`);
  for (const r of rows) {
    process.stdout.write(
      Object.entries(r)
        .map(([k, v]) => `${k}: ${v}`)
        .join('  |  ') + '\n',
    );
  }
}

if (want('cli'))
  print(
    `cli: cold start of the built CLI, CPU time as a ratio to node -e 0 (median of ${process.env.BENCH_CLI_RUNS ?? 7} runs)`,
    await (await import('./cli.js')).benchCli(),
  );
if (want('embedded'))
  print(
    'embedded: run-dag songplays on the real Sparkify sample, existing PGlite warehouse, vs PGlite alone',
    await (await import('./embedded.js')).benchEmbedded(),
  );
if (want('engine')) print('engine: 1,000-task DAGs of Empty tasks (validation, runner + SQLite state)', await benchEngine());
if (want('scheduler'))
  print(
    'scheduler latency (real daemon, a DAG due every minute: waits for the next minute)',
    await (await import('./scheduler.js')).benchScheduler(),
  );
if (want('load'))
  print(
    'load: staging Sparkify events (jsonpaths + epochmillisecs) vs COPY floor and row-at-a-time INSERT',
    await (await import('./load.js')).benchLoad(),
  );
if (want('pipeline'))
  print(
    'pipeline: the songplays DAG end to end on one generated day (runner + state store)',
    await (await import('./pipeline.js')).benchPipeline(),
  );
if (want('operators'))
  print(
    'operators: 100 reschedule-mode sensors waiting at once (8 task slots); Shell task overhead over sh -c (targets: 0 slots and <= 2% of a core while waiting; <= 20 ms)',
    await (await import('./operators.js')).benchOperators(),
  );
if (want('web'))
  print(
    'web: the web UI over 10,000 runs of a 50-task DAG, a 100,000-line log, 200 DAG files (p95 of 50 requests)',
    await (await import('./web.js')).benchWeb(),
  );
if (want('scale'))
  print(
    'scale: 10,000 Empty tasks run by 1, 2 and 4 sluice worker processes on the PostgreSQL state vs SQLite in one process (targets: >= 500 tasks/s with 2 workers, p99 claim <= 50 ms, no task run twice)',
    await (await import('./scale.js')).benchScale(),
  );
if (want('report'))
  print(
    'report: sluice report songplays --last 100 --format html over 1,000 stored runs (built CLI; targets <= 1 s, <= 2 MB)',
    await (await import('./report.js')).benchReport(),
  );
