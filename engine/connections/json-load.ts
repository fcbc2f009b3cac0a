/**
 * The local emulation of Redshift `COPY <table> FROM '<prefix>' FORMAT AS JSON`,
 * shared by the PGlite and PostgreSQL warehouses. Each warehouse supplies a
 * CSV sink (PGlite: `COPY ... FROM '/dev/blob'` per chunk; PostgreSQL: one
 * streamed `COPY ... FROM STDIN`); this module lists the objects, streams
 * them, splits and converts records, collects rejections and enforces MAXERROR.
 *
 * Memory stays bounded: objects are streamed one after another; small
 * objects (many song files) are fetched ahead concurrently, a bounded window
 * of them; rows are flushed to the sink in chunks.
 *
 * The caller runs this inside a transaction, so a failed load leaves nothing.
 */
import type { Readable } from 'node:stream';
import { LoadError } from '../errors.js';
import type { JsonLoadSpec, LoadResult, ObjectInfo, QueryOptions, Rejection } from '../interfaces.js';
import { createRowConverter, showValue } from './convert.js';
import { objectUrl, toStoreKey } from './keys.js';
import { readJsonRecords } from './records.js';
import { columnList, describeTable, type RunQuery } from './table.js';

/** Where converted rows go. */
export interface CsvSink {
  /** Writes CSV rows (each ending in \n); resolves when the sink can take more. */
  write(csv: string): Promise<void>;
  /** Completes the load. */
  finish(): Promise<void>;
  /** Abandons the load after an error (the caller then rolls back). */
  abort(err: Error): Promise<void>;
}

/** What a warehouse session gives the loader. */
export interface LocalLoadTarget {
  query: RunQuery;
  /** Starts a COPY into `table` with the given quoted column list. */
  openSink(table: string, columns: string): Promise<CsvSink>;
  /** Flush to the sink after this many rows... */
  chunkRows: number;
  /** ...or this many characters, whichever comes first. */
  chunkChars: number;
}

/** A load that failed on bad data; carries every rejection seen so far. */
export class JsonLoadError extends LoadError {
  override name = 'LoadError';
  constructor(
    message: string,
    object: string | undefined,
    line: number | undefined,
    readonly rejected: Rejection[],
  ) {
    super(message, object, line);
  }
}

/** Objects up to this size are read ahead whole; bigger ones are streamed when reached. */
const READ_AHEAD_MAX_BYTES = 1 << 20;
/** How many objects are read ahead at most. */
const READ_AHEAD_WINDOW = 16;

type Source = AsyncIterable<Buffer | string> | Iterable<Buffer | string>;

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw signal.reason instanceof Error ? signal.reason : new Error('load aborted');
  }
}

async function readWhole(stream: Readable): Promise<Buffer[]> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return parts;
}

/**
 * Opens objects in order with a read-ahead window: small objects are fetched
 * whole, concurrently; large ones are opened only when their turn comes.
 */
function createObjectReader(spec: JsonLoadSpec, objects: ObjectInfo[], opts: QueryOptions) {
  const ahead = new Map<number, Promise<Buffer[]>>();
  const fetchSmall = (i: number) => {
    const p = spec.store.read(objects[i]!.key, opts).then(readWhole);
    p.catch(() => {}); // awaited later; do not report as unhandled meanwhile
    ahead.set(i, p);
  };
  return async (i: number): Promise<Source> => {
    for (let j = i; j < Math.min(objects.length, i + READ_AHEAD_WINDOW); j++) {
      if (!ahead.has(j) && objects[j]!.size <= READ_AHEAD_MAX_BYTES) fetchSmall(j);
    }
    const small = ahead.get(i);
    ahead.delete(i);
    if (small) return await small;
    return await spec.store.read(objects[i]!.key, opts);
  };
}

/**
 * Loads every object under spec.source into spec.table through the target's
 * CSV sink. Throws a JsonLoadError when more than spec.maxerror lines are
 * rejected; the caller's transaction must then roll back.
 */
export async function loadJsonLocally(target: LocalLoadTarget, spec: JsonLoadSpec, opts: QueryOptions = {}): Promise<LoadResult> {
  const signal = opts.signal;
  throwIfAborted(signal);
  const prefix = toStoreKey(spec.store.url, spec.source);
  const objects = await spec.store.list(prefix, opts);
  if (objects.length === 0) {
    throw new LoadError(`no objects under ${objectUrl(spec.store.url, prefix)} (nothing to load into ${spec.table})`, prefix);
  }
  const columns = await describeTable(target.query, spec.table);
  const convert = createRowConverter(columns, spec.mapping, spec.timeformat);
  const sink = await target.openSink(spec.table, columnList(columns));

  const rejected: Rejection[] = [];
  let rows = 0;
  let bytes = 0;
  let chunk: string[] = [];
  let chunkChars = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    const csv = chunk.join('');
    chunk = [];
    chunkChars = 0;
    await sink.write(csv);
    throwIfAborted(signal);
  };
  const reject = (r: Rejection) => {
    rejected.push(r);
    if (rejected.length > spec.maxerror) {
      const first = rejected[0]!;
      const where = `${first.object} line ${first.line}${first.column ? `, column ${first.column}` : ''}`;
      throw new JsonLoadError(
        `load into ${spec.table} failed: ${rejected.length} line(s) rejected, more than MAXERROR ${spec.maxerror}; ` +
          `first at ${where}: ${first.reason}${first.value !== null ? ` (value: ${first.value})` : ''}`,
        first.object,
        first.line,
        rejected,
      );
    }
  };

  try {
    const open = createObjectReader(spec, objects, opts);
    for (let i = 0; i < objects.length; i++) {
      throwIfAborted(signal);
      const info = objects[i]!;
      const object = objectUrl(spec.store.url, info.key);
      bytes += info.size;
      const source = await open(i);
      for await (const batch of readJsonRecords(source)) {
        for (const rec of batch) {
          if (rec.error !== undefined) {
            reject({ object, line: rec.line, column: null, value: showValue(rec.text), reason: rec.error });
            continue;
          }
          const r = convert(rec.value);
          if (r.ok) {
            chunk.push(r.csv);
            chunkChars += r.csv.length;
            rows++;
            if (chunk.length >= target.chunkRows || chunkChars >= target.chunkChars) await flush();
          } else {
            reject({ object, line: rec.line, column: r.column, value: r.value, reason: r.reason });
          }
        }
      }
    }
    await flush();
    await sink.finish();
  } catch (err) {
    await sink.abort(err as Error).catch(() => {});
    throw err;
  }
  return { rows, objects: objects.length, bytes, rejected };
}
