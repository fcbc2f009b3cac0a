/**
 * Engine benchmark: 1,000-task DAG files of Empty tasks (a chain, a wide
 * fan-out/fan-in, a random layered DAG), validated and run through the real
 * runner and SQLite state store. Prints validation time, total run time,
 * engine overhead per task and peak RSS, each next to a floor measured in the
 * same run: parsing the same YAML (no validation), and the state store's
 * writes alone (the SQLite cost a task must pay).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadDagSource } from '../engine/dag/index.js';
import { defaultRegistry } from '../operators/index.js';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import type { StateStore } from '../engine/state/index.js';
import { executeRun } from '../engine/run/runner.js';
import { Runs } from '../engine/run/runs.js';
import { createSinkLogger, TaskLogSink } from '../engine/log.js';
import type { ConnectionResolver, Dag } from '../engine/interfaces.js';

const N = Number(process.env.BENCH_TASKS ?? 1000);

function chain(n: number): string {
  const lines = ['dag: chain', 'tasks:'];
  for (let i = 0; i < n; i++) lines.push(`  t${i}:`, '    operator: Empty', ...(i ? [`    upstream: [t${i - 1}]`] : []));
  return lines.join('\n') + '\n';
}

function fan(n: number): string {
  const lines = ['dag: fan', 'max_active_tasks: 1024', 'tasks:', '  start:', '    operator: Empty'];
  for (let i = 0; i < n - 2; i++) lines.push(`  t${i}:`, '    operator: Empty', '    upstream: [start]');
  lines.push(
    '  finish:',
    '    operator: Empty',
    `    upstream: [${Array.from({ length: n - 2 }, (_, i) => `t${i}`).join(', ')}]`,
  );
  return lines.join('\n') + '\n';
}

/** Layers of tasks, each depending on 1-3 random tasks of the layer before (seeded). */
function layered(n: number, layers = 20): string {
  let seed = 42;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const per = Math.ceil(n / layers);
  const lines = ['dag: layered', 'max_active_tasks: 1024', 'tasks:'];
  let prev: string[] = [];
  let made = 0;
  for (let l = 0; l < layers && made < n; l++) {
    const cur: string[] = [];
    for (let i = 0; i < per && made < n; i++, made++) {
      const id = `l${l}_${i}`;
      cur.push(id);
      const ups = prev.length
        ? [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => prev[Math.floor(rnd() * prev.length)]!))]
        : [];
      lines.push(`  ${id}:`, '    operator: Empty', ...(ups.length ? [`    upstream: [${ups.join(', ')}]`] : []));
    }
    prev = cur;
  }
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

function time<T>(fn: () => T): [T, number] {
  const t = process.hrtime.bigint();
  const v = fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const v = await fn();
  return [v, Number(process.hrtime.bigint() - t) / 1e6];
}

/** The state writes a task costs, without the runner: the floor for run overhead. */
async function storeFloor(store: StateStore, dag: Dag): Promise<number> {
  const day = new Date('2030-01-01T00:00:00Z');
  const run = (await new Runs(store).createRun({
    dag: { ...dag, id: `${dag.id}_floor` },
    interval: { start: day, end: day },
    runType: 'manual',
    maxTries: 1,
  }))!;
  const [, ms] = await timeAsync(async () => {
    for (const id of dag.order) {
      await store.tasks.setState(run.runId, id, 'scheduled', new Date());
      await store.tasks.setState(run.runId, id, 'queued', new Date());
      const t = await store.tasks.startTry(run.runId, id, new Date());
      await store.tasks.endTry(t, { state: 'success', taskState: 'success', now: new Date() });
    }
  });
  return ms;
}

export async function benchEngine(): Promise<Record<string, unknown>[]> {
  const registry = defaultRegistry();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-'));
  const results: Record<string, unknown>[] = [];
  try {
    for (const [name, src] of [
      ['chain', chain(N)],
      ['fan-out/fan-in', fan(N)],
      ['random layered', layered(N)],
    ] as const) {
      // warm-up, then best of 3
      loadDagSource(src, `${name}.yaml`, registry);
      let validateMs = Infinity;
      let parseMs = Infinity;
      let dag!: Dag;
      for (let i = 0; i < 3; i++) {
        const [d, ms] = time(() => loadDagSource(src, `${name}.yaml`, registry));
        dag = d;
        validateMs = Math.min(validateMs, ms);
        parseMs = Math.min(parseMs, time(() => YAML.parseDocument(src))[1]);
      }
      const store = new SqliteStateStore(path.join(dir, `${name.replace(/\W/g, '_')}.db`));
      const logger = createSinkLogger(new TaskLogSink(store.logs, null), 'info');
      const day = new Date('2024-01-01T00:00:00Z');
      const run = (await new Runs(store).createRun({
        dag,
        interval: { start: day, end: new Date('2024-01-02T00:00:00Z') },
        runType: 'manual',
        maxTries: 1,
      }))!;
      const [state, runMs] = await timeAsync(() =>
        executeRun(dag, run.runId, {
          store,
          registry,
          connections: noConnections,
          logger,
          parallelism: 1024,
          resolvePath: (p) => p,
        }),
      );
      if (state !== 'success') throw new Error(`bench run of ${name} ended ${state}`);
      const floorMs = await storeFloor(store, dag);
      await store.close();
      results.push({
        dag: name,
        tasks: dag.tasks.size,
        'validate ms': validateMs.toFixed(1),
        'yaml parse ms (floor)': parseMs.toFixed(1),
        'validate/parse': (validateMs / parseMs).toFixed(2),
        'run ms': runMs.toFixed(0),
        'overhead ms/task': (runMs / dag.tasks.size).toFixed(3),
        'state writes ms/task (floor)': (floorMs / dag.tasks.size).toFixed(3),
        'run/floor': (runMs / floorMs).toFixed(2),
        'validate < 200ms': validateMs < 200 ? 'yes' : 'NO',
        'overhead < 2ms/task': runMs / dag.tasks.size < 2 ? 'yes' : 'NO',
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  results.push({ 'peak RSS MB': (process.resourceUsage().maxRSS / 1024).toFixed(0) });
  return results;
}
