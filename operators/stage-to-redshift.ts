import fs from 'node:fs/promises';
import { z } from 'zod';
import { checkConvertOptions, readJsonPathsFile } from '../engine/connections/index.js';
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
        .string()
        .min(1)
        .default('auto')
        .describe(
          "how TIMESTAMP/TIMESTAMPTZ columns are read (Redshift TIMEFORMAT): 'auto', 'epochsecs', 'epochmillisecs' or a format such as 'YYYY-MM-DD HH:MI:SS'",
        ),
      dateformat: z
        .string()
        .min(1)
        .default('YYYY-MM-DD')
        .describe("how DATE columns are read (Redshift DATEFORMAT): 'auto' or a format such as 'MM/DD/YYYY'"),
      roundec: z
        .boolean()
        .default(false)
        .describe('round decimals with more fractional digits than the column scale (Redshift ROUNDEC); default truncates'),
      truncatecolumns: z
        .boolean()
        .default(false)
        .describe('truncate text longer than its VARCHAR/CHAR column instead of rejecting the line (Redshift TRUNCATECOLUMNS)'),
      acceptinvchars: z
        .union([z.boolean(), z.string()])
        .default(false)
        .describe(
          "replace invalid UTF-8 instead of rejecting the line (Redshift ACCEPTINVCHARS): true for '?', or one ASCII character, e.g. '^'",
        ),
      maxerror: z
        .number()
        .int()
        .min(0)
        .max(100000)
        .default(0)
        .describe('how many rejected lines are tolerated before the load fails (Redshift MAXERROR, at most 100000)'),
      mode: z
        .enum(['replace', 'append'])
        .default('replace')
        .describe('replace: empty the table and load in one transaction; append: add to what is there'),
    })
    .strict()
    .superRefine((p, ctx) => {
      const problem = checkConvertOptions({
        timeformat: p.timeformat,
        dateformat: p.dateformat,
        acceptinvchars: invalidCharReplacement(p.acceptinvchars),
      });
      if (problem !== null) {
        const field = problem.split(':')[0]!;
        ctx.addIssue({ code: 'custom', path: [field], message: problem.slice(field.length + 2) });
      }
    }),
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
      warn: (m) => log.warn({ table: params.table }, m),
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
              dateformat: params.dateformat,
              roundec: params.roundec,
              truncatecolumns: params.truncatecolumns,
              acceptinvchars: invalidCharReplacement(params.acceptinvchars),
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
  env: {
    resolvePath: (p: string) => string;
    store: ObjectStore;
    redshift: boolean;
    signal: AbortSignal;
    warn: (message: string) => void;
  },
): Promise<JsonMapping> {
  /** A file without a "jsonpaths" key loads as 'auto', as COPY does, with a warning in the task log. */
  const fromText = (text: string, file: string): JsonMapping => {
    const read = readJsonPathsFile(text, file);
    if (read.kind === 'auto') {
      env.warn(read.warning);
      return { kind: 'auto' };
    }
    return { kind: 'jsonpaths', paths: read.paths, file };
  };
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
    return fromText(text, json);
  }
  const file = env.resolvePath(json);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    throw new TaskFailure(`json: JSONPaths file ${json} not found (looked at ${file}); or use 'auto' / 'auto ignorecase'`);
  }
  return fromText(text, json);
}

/** The ACCEPTINVCHARS replacement a parameter value asks for: true means Redshift's default '?'. */
function invalidCharReplacement(v: boolean | string): string | undefined {
  return v === true ? '?' : v === false ? undefined : v;
}

async function readText(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(parts).toString('utf8');
}
