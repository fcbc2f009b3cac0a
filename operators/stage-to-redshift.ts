import fs from 'node:fs/promises';
import { z } from 'zod';
import { parseJsonPaths } from '../engine/connections/index.js';
import { LoadError, TaskFailure } from '../engine/errors.js';
import type { Readable } from 'node:stream';
import type { JsonMapping, LoadResult, ObjectStore, Rejection } from '../engine/interfaces.js';
import { defineOperator, identifier, quoteIdent } from '../engine/operator.js';

/**
 * Copies JSON objects from the data lake into a staging table with Redshift
 * `COPY ... FORMAT AS JSON` semantics (like Airflow's S3ToRedshiftOperator).
 * `replace` empties the table (DELETE, not TRUNCATE, which commits on
 * Redshift) and loads in one transaction: a failed load leaves the table as
 * it was. Every rejected line is recorded, like Redshift's stl_load_errors.
 */
export const StageToRedshift = defineOperator({
  name: 'StageToRedshift',
  description: 'Loads JSON objects from the lake into a staging table (Redshift COPY JSON semantics)',
  params: z
    .object({
      table: identifier.describe('staging table to load, e.g. staging_events'),
      source: z
        .string()
        .min(1)
        .describe(
          "object key or prefix in the lake (every object under a prefix is loaded); a template, e.g. log_data/{{ logical_date | date: '%Y/%m' }}/",
        ),
      lake: z.string().min(1).default('lake').describe('name of the object store connection holding the data'),
      connection: z.string().min(1).default('warehouse').describe('name of the warehouse connection'),
      json: z
        .string()
        .min(1)
        .default('auto')
        .describe(
          "'auto' (keys match column names), 'auto ignorecase', or a JSONPaths file: a path relative to the project root, or an s3:// URL (read by Redshift; for local warehouses it must lie in the lake)",
        ),
      timeformat: z
        .enum(['epochmillisecs', 'auto'])
        .default('auto')
        .describe('how timestamp columns are read: epoch milliseconds or Redshift TIMEFORMAT auto'),
      maxerror: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('how many rejected lines are tolerated before the load fails (Redshift MAXERROR)'),
      mode: z
        .enum(['replace', 'append'])
        .default('replace')
        .describe('replace: empty the table and load in one transaction; append: add to what is there'),
    })
    .strict(),
  templated: ['source'],
  connectionParam: 'connection',
  async execute(ctx) {
    const { params, signal, log, record } = ctx;
    const store = await ctx.objectStore(params.lake);
    const mapping = await jsonMapping(params.json, {
      resolvePath: ctx.resolvePath,
      store,
      redshift: ctx.dialect(params.connection) === 'redshift',
      signal,
    });
    const wh = await ctx.warehouse(params.connection);
    const table = quoteIdent(params.table);
    let deleted = 0;
    let result: LoadResult;
    try {
      result = await wh.transaction(
        async (tx) => {
          if (params.mode === 'replace') deleted = (await tx.query(`DELETE FROM ${table}`, [], { signal })).rowCount;
          return tx.loadJson(
            {
              table: params.table,
              store,
              source: params.source,
              mapping,
              timeformat: params.timeformat,
              maxerror: params.maxerror,
            },
            { signal },
          );
        },
        { signal },
      );
    } catch (err) {
      const rejected = (err as { rejected?: unknown }).rejected;
      if (err instanceof LoadError && Array.isArray(rejected)) {
        await ctx.recordRejections(params.table, rejected as Rejection[]);
        record({ table: params.table, source: params.source, rows_loaded: 0, rejected: rejected.length, rolled_back: true });
      }
      throw err;
    }
    // The lake listing skipped something the user should hear of (a symlink loop, a file linked twice).
    for (const w of result.warnings ?? []) log.warn({ table: params.table }, w);
    if (result.rejected.length > 0) {
      await ctx.recordRejections(params.table, result.rejected);
      log.warn(
        { table: params.table, rejected: result.rejected.length, maxerror: params.maxerror, first: result.rejected[0] },
        'lines rejected (within MAXERROR)',
      );
    }
    log.info({ table: params.table, rows: result.rows, objects: result.objects, bytes: result.bytes }, 'staged');
    record({
      table: params.table,
      source: params.source,
      mode: params.mode,
      rows_deleted: deleted,
      rows_loaded: result.rows,
      objects: result.objects,
      bytes: result.bytes,
      rejected: result.rejected.length,
    });
  },
});

/**
 * The JSON mapping named by the `json` parameter. A JSONPaths file in the
 * project is read and checked. A URL (s3://...) is passed to Redshift, which
 * reads it itself; for the local warehouses it is read from the lake, so it
 * must lie under the lake's URL.
 */
async function jsonMapping(
  json: string,
  env: { resolvePath: (p: string) => string; store: ObjectStore; redshift: boolean; signal: AbortSignal },
): Promise<JsonMapping> {
  const lower = json.trim().toLowerCase();
  if (lower === 'auto') return { kind: 'auto' };
  if (lower === 'auto ignorecase') return { kind: 'auto ignorecase' };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(json)) {
    if (env.redshift) return { kind: 'jsonpaths', paths: [], file: json };
    const base = env.store.url.split('?')[0]!.replace(/\/+$/, '');
    if (!json.startsWith(`${base}/`)) {
      throw new TaskFailure(
        `json: ${json} is neither in the project nor under the lake (${base}); give a project path such as sql/log_json_path.json`,
      );
    }
    const text = await readText(await env.store.read(json.slice(base.length + 1), { signal: env.signal }));
    return { kind: 'jsonpaths', paths: parseJsonPaths(text, json), file: json };
  }
  const file = env.resolvePath(json);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new TaskFailure(`json: JSONPaths file ${json} not found (looked at ${file}); or use 'auto' / 'auto ignorecase'`);
  }
  return { kind: 'jsonpaths', paths: parseJsonPaths(text, json), file: json };
}

async function readText(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}
