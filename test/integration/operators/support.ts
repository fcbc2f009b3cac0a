/**
 * Wiring for the operator tests: a warehouse + lake connection pair, and a
 * runner call that executes a YAML DAG for one logical date with the real
 * runner, state store and operator registry.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import type { ConnectionResolver, RunState, Warehouse } from '../../../engine/interfaces.js';
import type { StateStore, TaskTry } from '../../../engine/state/index.js';
import { defaultRegistry } from '../../../operators/index.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { makeTempDir } from '../../helpers/tmp.js';

/** The project root (sql/ and dags/ resolve against it). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Env {
  connections: ConnectionResolver;
  /** Folder of the local lake. */
  lake: string;
  warehouse(): Promise<Warehouse>;
  close(): Promise<void>;
}

/** Connections `warehouse` (the given URL) and `lake` (a folder, a new temp one by default). */
export function makeEnv(warehouseUrl: string, lake = makeTempDir('sluice-lake')): Env {
  const connections = createConnectionResolver({ warehouse: warehouseUrl, lake }, { home: makeTempDir('sluice-home') });
  return {
    connections,
    lake,
    warehouse: () => connections.warehouse(),
    close: () => connections.closeAll(),
  };
}

/** Writes a file into the lake folder. */
export function writeLake(env: Env, key: string, body: string): void {
  const file = path.join(env.lake, key);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body);
}

export interface RunOutcome {
  state: RunState;
  runId: string;
  store: StateStore;
  h: Harness;
  /** Task state as recorded (read when the run ended, as the helpers below). */
  taskState(taskId: string): string | null;
  /** The outputs of the task's latest try that recorded any. */
  outputs(taskId: string): Record<string, unknown>;
  tries(taskId: string): TaskTry[];
}

let dagCounter = 0;

/**
 * Runs a DAG (YAML text, or a file path under the project) for one logical
 * date in a fresh state store; the run's interval is that day. The state
 * store stays open until closeRuns() (so a test can inspect it).
 */
export async function runDag(env: Env, dagYaml: string, date: string | Date): Promise<RunOutcome> {
  const h = harness({ connections: env.connections, projectRoot: PROJECT_ROOT, registry: defaultRegistry() });
  opened.push(h);
  const dag = h.dag(dagYaml);
  const { runId, state } = await h.run(dag, { logicalDate: new Date(date) });
  dagCounter++;
  const instances = await h.store.tasks.list(runId);
  const outputs = await h.store.tasks.latestOutputs(runId);
  const tries = await h.store.tasks.tries(runId);
  return {
    state,
    runId,
    store: h.store,
    h,
    taskState: (id) => instances.find((t) => t.taskId === id)?.state ?? null,
    outputs: (id) => outputs.get(id)?.outputs ?? {},
    tries: (id) => tries.filter((t) => t.taskId === id),
  };
}

const opened: Harness[] = [];

/** Closes the state stores of every run so far. */
export function closeRuns(): void {
  for (const h of opened.splice(0)) h.close();
}

/** A one-task DAG around a task body (YAML lines indented by four spaces). */
export function oneTask(operator: string, body: string, opts: { retries?: number; dag?: string } = {}): string {
  return [
    `dag: ${opts.dag ?? `t${dagCounter}`}`,
    'default_args:',
    `  retries: ${opts.retries ?? 0}`,
    '  retry_delay: 5m',
    'tasks:',
    '  task:',
    `    operator: ${operator}`,
    ...dedent(body).map((l) => `    ${l}`),
  ].join('\n');
}

/**
 * Non-blank lines with their common indentation removed; the first line
 * (which follows the opening backquote) is only trimmed.
 */
function dedent(text: string): string[] {
  const [first, ...rest] = text.split('\n').filter((l) => l.trim());
  const indent = rest.length ? Math.min(...rest.map((l) => /^ */.exec(l)![0].length)) : 0;
  return [first!.trimStart(), ...rest.map((l) => l.slice(indent))];
}

/** Rows of a query as plain objects. */
export async function rows<T = Record<string, unknown>>(env: Env, sql: string, params: unknown[] = []): Promise<T[]> {
  return (await (await env.warehouse()).query<T>(sql, params)).rows;
}

export async function count(env: Env, table: string): Promise<number> {
  return Number((await rows<{ n: number }>(env, `SELECT COUNT(*) AS n FROM ${table}`))[0]!.n);
}

/** Runs SQL statements on the test warehouse. */
export async function exec(env: Env, sql: string): Promise<void> {
  await (await env.warehouse()).query(sql);
}
