/**
 * Test wiring for the runner: a state store in a temp folder, a registry with
 * test-only operators, a fake clock, and task logs stored like the CLI does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { defineOperator } from '../../engine/operator.js';
import type { ConnectionResolver, Dag, RunState } from '../../engine/interfaces.js';
import type { OperatorRegistry } from '../../engine/registry.js';
import { defaultRegistry } from '../../operators/index.js';
import { SqliteStateStore } from '../../engine/state/sqlite/index.js';
import { FakeClock, type Clock } from '../../engine/run/clock.js';
import { Runs } from '../../engine/run/runs.js';
import { executeRun, type RunEvent } from '../../engine/run/runner.js';
import { createSinkLogger, TaskLogSink } from '../../engine/log.js';
import { loadDagSource } from '../../engine/dag/index.js';

export function tmpDir(prefix = 'sluice-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Shared observations of the test operators. */
export class Probe {
  started: string[] = [];
  ended: string[] = [];
  active = 0;
  maxActive = 0;
}

export function testOperators(probe: Probe) {
  const track = async (id: string, work: () => Promise<void>) => {
    probe.started.push(id);
    probe.active++;
    probe.maxActive = Math.max(probe.maxActive, probe.active);
    try {
      await work();
    } finally {
      probe.active--;
      probe.ended.push(id);
    }
  };
  return [
    defineOperator({
      name: 'Succeed',
      description: 'test: succeeds after yielding to the event loop a few times',
      params: z.object({ ticks: z.number().int().default(2) }).strict(),
      async execute({ params, taskId, record }) {
        await track(taskId, async () => {
          for (let i = 0; i < params.ticks; i++) await new Promise((r) => setImmediate(r));
        });
        record({ ok: true });
      },
    }),
    defineOperator({
      name: 'Fail',
      description: 'test: fails its first `times` tries (all when absent)',
      params: z.object({ times: z.number().int().optional(), message: z.string().default('boom') }).strict(),
      async execute({ params, tryNumber, taskId, log }) {
        await track(taskId, async () => {
          if (params.times === undefined || tryNumber <= params.times) {
            log.warn({ tryNumber }, 'about to fail');
            throw new Error(`${params.message} (try ${tryNumber})`);
          }
        });
      },
    }),
    defineOperator({
      name: 'Sleep',
      description:
        'test: waits ms (real time) or until aborted; `ignore_signal` keeps waiting after abort; `marker` is a file written on start',
      params: z
        .object({
          ms: z.number().int().default(60_000),
          /** how long tries after the first sleep (a task that hangs once, then recovers) */
          ms_after_first: z.number().int().optional(),
          ignore_signal: z.boolean().default(false),
          marker: z.string().optional(),
        })
        .strict(),
      async execute({ params, signal, taskId, tryNumber }) {
        if (params.marker) fs.writeFileSync(params.marker, String(process.pid));
        const ms = tryNumber > 1 && params.ms_after_first !== undefined ? params.ms_after_first : params.ms;
        await track(taskId, async () => {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, ms);
            if (!params.ignore_signal) {
              signal.addEventListener('abort', () => {
                clearTimeout(t);
                reject(signal.reason);
              });
            }
          });
        });
      },
    }),
    defineOperator({
      name: 'Echo',
      description: 'test: records its templated message and logs it',
      params: z.object({ message: z.string(), secret_url: z.string().optional(), connection: z.string().optional() }).strict(),
      connectionParam: 'connection',
      templated: ['message'],
      async execute({ params, record, log }) {
        log.info({ message: params.message, password: 'hunter2' }, `echo ${params.secret_url ?? ''}`);
        record({ message: params.message });
      },
    }),
  ];
}

export function noConnections(): ConnectionResolver {
  const fail = async (): Promise<never> => {
    throw new Error('this test has no connections');
  };
  return {
    warehouse: fail,
    objectStore: fail,
    publicUrl: () => '',
    dialect: () => 'postgres',
    names: () => [],
    closeAll: async () => {},
  };
}

export interface Harness {
  dir: string;
  store: SqliteStateStore;
  /** The run lifecycle API over `store`, on the harness clock. */
  runs: Runs;
  registry: OperatorRegistry;
  clock: Clock;
  probe: Probe;
  events: RunEvent[];
  dag(yaml: string): Dag;
  /** Creates a run for the dag (logical date 2024-01-01 unless given; interval one day) and executes it. */
  run(
    dag: Dag,
    opts?: { parallelism?: number; signal?: AbortSignal; conf?: Record<string, unknown>; logicalDate?: Date },
  ): Promise<{ runId: string; state: RunState }>;
  close(): Promise<void>;
}

export function harness(
  opts: { clock?: Clock; connections?: ConnectionResolver; registry?: OperatorRegistry; projectRoot?: string } = {},
): Harness {
  const dir = tmpDir();
  const store = new SqliteStateStore(path.join(dir, 'state.db'));
  const probe = new Probe();
  const registry = opts.registry ?? defaultRegistry();
  for (const op of testOperators(probe)) if (!registry.get(op.name)) registry.register(op);
  const clock = opts.clock ?? new FakeClock('2024-01-02T00:00:00Z');
  const events: RunEvent[] = [];
  const runs = new Runs(store, { clock });
  const logger = createSinkLogger(new TaskLogSink(store.logs, null), 'debug');
  return {
    dir,
    store,
    runs,
    registry,
    clock,
    probe,
    events,
    dag: (yaml) => loadDagSource(yaml, path.join(dir, 'dag.yaml'), registry),
    async run(dag, o = {}) {
      const logical = o.logicalDate ?? new Date('2024-01-01T00:00:00Z');
      const row = await runs.createRun({
        dag,
        interval: { start: logical, end: new Date(logical.getTime() + 86_400_000) },
        runType: 'manual',
        conf: o.conf,
      });
      if (!row) throw new Error(`DAG ${dag.id} already has a run for ${logical.toISOString()}`);
      const state = await executeRun(
        dag,
        row.runId,
        {
          store,
          registry,
          connections: opts.connections ?? noConnections(),
          logger,
          parallelism: o.parallelism ?? 8,
          resolvePath: (p) => path.resolve(opts.projectRoot ?? dir, p),
          clock,
          onEvent: (e) => events.push(e),
        },
        o.signal,
      );
      return { runId: row.runId, state };
    },
    async close() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
