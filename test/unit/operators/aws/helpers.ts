/**
 * A TaskContext for calling the cluster operators directly: a pino logger
 * that keeps its lines, recorded outputs, and an optional connection store.
 */
import pino from 'pino';
import type { z } from 'zod';
import type { Dialect, OperatorDef, TaskContext, Warehouse } from '../../../../engine/interfaces.js';
import type { ConnectionStoreAccess } from '../../../../operators/aws/params.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface FakeRun {
  lines: string[];
  outputs: Record<string, unknown>;
  ctx: TaskContext<unknown> & { connectionStore?: ConnectionStoreAccess };
}

export function fakeContext<S extends z.ZodType>(
  op: OperatorDef<S>,
  raw: Record<string, unknown>,
  o: {
    dialect?: Dialect;
    store?: ConnectionStoreAccess;
    signal?: AbortSignal;
    warehouse?: () => Promise<Warehouse>;
    conn?: Record<string, string>;
  } = {},
): FakeRun {
  const lines: string[] = [];
  const outputs: Record<string, unknown> = {};
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
  const params = op.params.parse(raw);
  const ctx = {
    dagId: 'redshift_cluster',
    runId: 'redshift_cluster__manual__2024-01-01T00:00:00Z',
    taskId: 'task',
    tryNumber: 1,
    logicalDate: new Date('2024-01-01T00:00:00Z'),
    dataIntervalStart: new Date('2024-01-01T00:00:00Z'),
    dataIntervalEnd: new Date('2024-01-02T00:00:00Z'),
    params,
    render: async (t: string) => t.replace(/\{\{\s*conn\.(\w+)\s*\}\}/g, (_m, n: string) => o.conn?.[n] ?? ''),
    sql: async (t: string) => t,
    resolvePath: (p: string) => p,
    warehouse: o.warehouse ?? (async () => Promise.reject(new Error('no warehouse in this test'))),
    objectStore: async () => Promise.reject(new Error('no object store in this test')),
    log,
    signal: o.signal ?? new AbortController().signal,
    record: (x: Record<string, unknown>) => void Object.assign(outputs, x),
    recordRejections: () => {},
    dialect: () => o.dialect ?? 'redshift',
    ...(o.store ? { connectionStore: o.store } : {}),
  };
  return { lines, outputs, ctx: ctx as unknown as FakeRun['ctx'] };
}

/** An AWS SDK style error with a name (the error code). */
export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}
