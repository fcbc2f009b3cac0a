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
import { JsonLoadError, LoadError } from '../../errors.js';
import { quoteIdent } from '../../operator.js';
import type { JsonLoadSpec, LoadResult, ObjectInfo, QueryOptions, Rejection } from '../../interfaces.js';
import { createRowConverter, showValue, type ConvertOptions, type RowResult } from './convert.js';
import { decodeUtf8, parseJson, Utf8Decoder } from './lossless.js';
import { createFastRowEncoder, CsvBuffer } from './fast-encoder.js';
import { corruptGzipReason, corruptGzipText, gzipMismatchReason } from '../store/gzip.js';
import { objectUrl, toStoreKey } from '../store/keys.js';
import { JsonRecordSplitter, MAX_RECORD_BYTES, rejectionLine, type JsonRecord } from './records.js';
import { columnList, describeTable, type RunQuery } from './table.js';

/** Where converted rows go. */
export interface CsvSink {
  /**
   * Writes CSV rows (each ending in \n) as UTF-8 bytes; resolves when the sink
   * can take more. The sink owns the buffer from then on (it may queue it).
   */
  write(csv: Buffer): Promise<void>;
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
  /** ...or this many bytes of CSV, whichever comes first. */
  chunkBytes: number;
}

const NL = 10;
const CR = 13;
const SP = 32;
const TAB = 9;
const LBRACE = 123;
/** A line longer than this goes to the general splitter (which scans it incrementally) instead of being buffered whole. */
const MAX_PENDING_LINE = 1 << 20;

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

/**
 * Reads a stream whole, as a source that gives its bytes and then its error,
 * if it failed part way (corrupt gzip): the loader then reads the lines before
 * the break and can say which line the object broke off at.
 */
async function readWhole(stream: Readable): Promise<Source> {
  const parts: Buffer[] = [];
  let error: unknown;
  try {
    for await (const chunk of stream) parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  } catch (err) {
    error = err;
  }
  if (error === undefined) return parts;
  return (function* () {
    yield* parts;
    throw error;
  })();
}

/**
 * Opens objects in order with a read-ahead window: small objects are fetched
 * whole, concurrently; large ones are opened only when their turn comes.
 */
function createObjectReader(spec: JsonLoadSpec, objects: ObjectInfo[], opts: QueryOptions) {
  const ahead = new Map<number, Promise<Source>>();
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
  const warnings: string[] = [];
  const objects = await spec.store.list(prefix, { ...opts, onWarning: (m) => warnings.push(m) });
  if (objects.length === 0) {
    const skipped = warnings.length > 0 ? `; skipped: ${warnings.slice(0, 3).join('; ')}` : '';
    const where = objectUrl(spec.store.url, prefix);
    throw new LoadError(`no objects under ${where} (nothing to load into ${spec.table})${skipped}`, prefix);
  }
  const columns = await describeTable(target.query, spec.table);
  const options: Partial<Omit<ConvertOptions, 'timeformat'>> = {
    dateformat: spec.dateformat,
    roundec: spec.roundec,
    truncatecolumns: spec.truncatecolumns,
    acceptinvchars: spec.acceptinvchars,
  };
  const convert = createRowConverter(columns, spec.mapping, spec.timeformat, options);
  const fast = createFastRowEncoder(columns, spec.mapping, spec.timeformat, options);
  const sink = await target.openSink(spec.table, columnList(columns));

  const rejected: Rejection[] = [];
  let rows = 0;
  let bytes = 0;
  const out = new CsvBuffer(target.chunkBytes + (64 << 10));
  let chunkRows = 0;
  const chunkFull = () => out.pos >= target.chunkBytes || chunkRows >= target.chunkRows;
  const flush = async () => {
    if (out.pos === 0) return;
    chunkRows = 0;
    await sink.write(out.take());
    throwIfAborted(signal);
  };
  /** What fails the load outright in Redshift (not counted toward MAXERROR): an object over 4 MB, a JSONPaths index error. */
  const fail = (r: Rejection) => {
    rejected.push(r);
    const where = `${r.object} line ${r.line}${r.column ? `, column ${r.column}` : ''}`;
    throw new JsonLoadError(`load into ${spec.table} failed at ${where}: ${r.reason}`, r.object, r.line, rejected);
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
  /** The general path for one parsed record. */
  const convertValue = (object: string, line: number, value: unknown) => {
    let r: RowResult;
    try {
      r = convert(value);
    } catch (err) {
      // Never lose the object and line to an unexpected failure on one record: reject that line.
      r = { ok: false, column: null, value: null, reason: `cannot convert this record: ${(err as Error).message}` };
    }
    if (r.ok) {
      out.writeString(r.csv);
      rows++;
      chunkRows++;
    } else if (r.fatal) {
      fail({ object, line, column: r.column, value: r.value, reason: r.reason });
    } else {
      reject({ object, line, column: r.column, value: r.value, reason: r.reason });
    }
  };
  const handleRecords = async (object: string, recs: JsonRecord[]) => {
    for (const rec of recs) {
      const line = rejectionLine(rec);
      if (rec.tooLarge) fail({ object, line: rec.line, column: null, value: showValue(rec.text), reason: rec.error });
      else if (rec.error !== undefined) reject({ object, line, column: null, value: showValue(rec.text), reason: rec.error });
      else convertValue(object, line, rec.value);
      if (chunkFull()) await flush();
    }
    recs.length = 0;
  };

  /**
   * One object, read as bytes. Newline-delimited objects go through the fast
   * encoder (or JSON.parse of the line when it declines); at the first thing
   * that is not one object per line (pretty-printed or concatenated records,
   * junk, an over-long line) the rest of the object goes through the general
   * record splitter, which starts at that line.
   */
  const loadObject = async (object: string, source: Source) => {
    let line = 1;
    let carry: Buffer | null = null;
    let splitter: JsonRecordSplitter | null = null;
    let decoder: Utf8Decoder | null = null;
    const recs: JsonRecord[] = [];
    const toGeneral = async (b: Buffer, from: number) => {
      splitter = new JsonRecordSplitter(line);
      decoder = new Utf8Decoder();
      splitter.push(decoder.write(b.subarray(from)), recs);
      await handleRecords(object, recs);
    };
    /** Scans b; keeps an incomplete last line in carry unless final. */
    const scan = async (b: Buffer, final: boolean) => {
      const n = b.length;
      let i = 0;
      while (i < n) {
        const c = b[i]!;
        if (c === NL) {
          line++;
          i++;
          continue;
        }
        if (c === SP || c === TAB || c === CR) {
          i++;
          continue;
        }
        if (c === 0xef && b[i + 1] === 0xbb && b[i + 2] === 0xbf) {
          i += 3; // BOM
          continue;
        }
        if (c !== LBRACE) return toGeneral(b, i);
        let nl = b.indexOf(NL, i);
        if (nl < 0) {
          if (!final) {
            if (n - i >= MAX_PENDING_LINE) return toGeneral(b, i);
            carry = b.subarray(i);
            return;
          }
          nl = n;
        }
        if (nl - i > MAX_RECORD_BYTES) return toGeneral(b, i);
        if (fast !== null && fast(b, i, nl, out)) {
          rows++;
          chunkRows++;
        } else {
          let value: unknown;
          try {
            value = parseJson(decodeUtf8(b, i, nl));
          } catch {
            return toGeneral(b, i);
          }
          convertValue(object, line, value);
        }
        i = nl;
        if (chunkFull()) await flush();
      }
    };
    try {
      for await (const chunk of source) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        if (splitter !== null) {
          (splitter as JsonRecordSplitter).push((decoder as unknown as Utf8Decoder).write(b), recs);
          await handleRecords(object, recs);
          continue;
        }
        const whole: Buffer = carry === null ? b : Buffer.concat([carry, b]);
        carry = null;
        await scan(whole, false);
      }
    } catch (err) {
      // Corrupt or truncated gzip: name the line the data broke off at (the lines before it were read).
      const reason = corruptGzipReason(err);
      if (reason === undefined) throw err;
      const at = (splitter as JsonRecordSplitter | null)?.lineReached ?? line;
      const message = `load into ${spec.table} failed: ${object} line ${at}: ${corruptGzipText(reason)}`;
      throw new JsonLoadError(message, object, at, rejected);
    }
    if (splitter === null && carry !== null) {
      const last: Buffer = carry;
      carry = null;
      await scan(last, true);
    }
    if (splitter !== null) {
      const rest = (decoder as unknown as Utf8Decoder).end();
      if (rest) (splitter as JsonRecordSplitter).push(rest, recs);
      (splitter as JsonRecordSplitter).end(recs);
      await handleRecords(object, recs);
    }
  };

  try {
    const open = createObjectReader(spec, objects, opts);
    for (let i = 0; i < objects.length; i++) {
      throwIfAborted(signal);
      const info = objects[i]!;
      bytes += info.size;
      const object = objectUrl(spec.store.url, info.key);
      let source: Source;
      try {
        source = await open(i);
      } catch (err) {
        // gzip data under a key without .gz, or the reverse: it would fail on Redshift, so it fails here (line 1).
        const reason = gzipMismatchReason(err);
        if (reason === undefined) throw err;
        throw new JsonLoadError(`load into ${spec.table} failed: ${object} line 1: ${reason}`, object, 1, rejected);
      }
      await loadObject(object, source);
    }
    await flush();
    await sink.finish();
  } catch (err) {
    await sink.abort(err as Error).catch(() => {});
    throw err;
  }
  // Fresh statistics, as Redshift's COPY keeps them (STATUPDATE): without
  // them the planner takes a just-loaded staging table for empty and joins it
  // with a nested loop (minutes instead of a second for 100k events). A small
  // sample (statistics target 10: 3,000 rows) gives the row counts and rough
  // histograms the joins need at a tenth of the default cost. SET LOCAL lasts
  // to the end of the load's transaction; RESET gives the caller its setting back.
  // One round trip for the three (PGlite's session is shared with the tasks queued behind this load).
  await target.query(
    `SET LOCAL default_statistics_target = 10; ANALYZE ${quoteIdent(spec.table)}; RESET default_statistics_target`,
  );
  return { rows, objects: objects.length, bytes, rejected, warnings };
}
