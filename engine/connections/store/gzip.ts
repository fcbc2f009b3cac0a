/**
 * Transparent gzip, decided by the key as Redshift's COPY decides it: an
 * object whose key ends in .gz is decompressed, any other is read as it is
 * (the server-side COPY sends GZIP for the .gz keys only, see
 * warehouse/redshift/redshift-load.ts). The first bytes are checked against
 * the key so that what loads locally also loads on Redshift: gzip data under
 * a key without .gz, and a .gz key whose data is not gzip, are LoadErrors
 * naming the object and the fix. Corrupt or truncated gzip data is a
 * LoadError naming the object (zlib alone says only "unexpected end of
 * file"); the loader adds the line it had reached.
 */
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BAD_INPUT_DATA, LoadError } from '../../errors.js';

/**
 * Whether an object is gzip-compressed: its key ends in .gz (any case). The
 * one rule of both paths: the local stores and the Redshift COPY (GZIP).
 */
export function isGzipKey(key: string): boolean {
  return /\.gz$/i.test(key);
}

/** Whether err comes from zlib itself (bad compressed data), not from reading the source. */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** What is wrong and what to do, after the object's name (and line). */
export function corruptGzipText(zlibMessage: string): string {
  return (
    `corrupt or truncated gzip data (${zlibMessage}); ` +
    "replace the object with a complete gzip file, or move it out of the load's prefix"
  );
}

/** The corrupt-gzip errors made here, with zlib's message. */
const corrupt = new WeakMap<Error, string>();

/** The error for gzip data that cannot be decompressed: bad input, not retried (a retry reads the same bytes). */
function corruptGzipError(where: string, err: Error): LoadError {
  const e = new LoadError(`${where}: ${corruptGzipText(err.message)}`, where, undefined, {
    cause: err,
    retryable: false,
    notRetriedBecause: BAD_INPUT_DATA,
  });
  corrupt.set(e, err.message);
  return e;
}

/** zlib's message when err is a corrupt-gzip error from an object stream, else undefined. */
export function corruptGzipReason(err: unknown): string | undefined {
  return err instanceof Error ? corrupt.get(err) : undefined;
}

/** The key/content mismatch errors made here, with their text after the object's name. */
const mismatch = new WeakMap<Error, string>();

/** What is wrong with an object whose bytes disagree with its key, and what to do. */
export function gzipMismatchText(key: string, gzipData: boolean): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return gzipData
    ? "the data is gzip-compressed but the key does not end in .gz, and Redshift's COPY decompresses (GZIP) only " +
        `objects whose key ends in .gz, so this object would fail there: rename it to ${name}.gz`
    : "the key ends in .gz but the data is not gzip-compressed, and Redshift's COPY reads every .gz object with " +
        `GZIP, so this object would fail there: compress it with gzip, or rename it without .gz`;
}

/** The error for an object whose bytes disagree with its key: bad input, not retried. */
function gzipMismatchError(where: string, key: string, gzipData: boolean): LoadError {
  const text = gzipMismatchText(key, gzipData);
  const e = new LoadError(`${where}: ${text}`, where, undefined, { retryable: false, notRetriedBecause: BAD_INPUT_DATA });
  mismatch.set(e, text);
  return e;
}

/** The text after the object's name when err is a key/content mismatch from an object stream, else undefined. */
export function gzipMismatchReason(err: unknown): string | undefined {
  return err instanceof Error ? mismatch.get(err) : undefined;
}

/**
 * Pipes through gunzip. Errors from either side reach the consumer: the
 * source's as they are, zlib's as a LoadError naming the object.
 */
function gunzip(src: Readable, where: string): Readable {
  const gz = createGunzip();
  const out = new PassThrough();
  const fail = (err: Error) => {
    if (!out.destroyed) out.destroy(isZlibError(err) ? corruptGzipError(where, err) : err);
  };
  gz.on('error', fail);
  pipeline(src, gz, (err) => {
    if (err) fail(err);
  });
  // gunzip's output, with backpressure; the output ends only when gunzip ends cleanly.
  gz.pipe(out, { end: false });
  gz.once('end', () => out.end());
  // The consumer stopping early (an error elsewhere, an abort) stops gunzip and the source.
  out.once('close', () => {
    if (!gz.destroyed) gz.destroy();
  });
  return out;
}

/**
 * Returns a stream of the object's plain bytes: gunzipped when the key ends
 * in .gz, as it is otherwise (see isGzipKey). The first two bytes are read to
 * check the data against the key (the gzip magic, 1f 8b): a mismatch is a
 * LoadError naming the object. `where` names the object in errors (the store
 * URL and key). An empty object under a .gz key is left to gunzip (truncated).
 */
export async function decompressIfGzip(src: Readable, key: string, where: string = key): Promise<Readable> {
  const gz = isGzipKey(key);
  const head = await readHead(src, 2);
  if (head.length === 0 && !gz) return Readable.from([]);
  const magic = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  if (head.length > 0 && magic !== gz) {
    src.destroy();
    throw gzipMismatchError(where, key, magic);
  }
  const out = new PassThrough();
  out.write(head);
  pipeline(src, out, () => {});
  return gz ? gunzip(out, where) : out;
}

/** Reads at least n bytes (or to the end), leaving the stream paused after them. */
async function readHead(src: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < n) {
    const chunk = src.read() as Buffer | string | null;
    if (chunk !== null) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      parts.push(b);
      got += b.length;
      continue;
    }
    if (src.readableEnded || src.destroyed) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const onReadable = () => done(false);
      const onEnd = () => done(true);
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const cleanup = () => {
        src.off('readable', onReadable);
        src.off('end', onEnd);
        src.off('error', onError);
      };
      const done = (v: boolean) => {
        cleanup();
        resolve(v);
      };
      src.on('readable', onReadable);
      src.on('end', onEnd);
      src.on('error', onError);
    });
    if (ended) break;
  }
  return Buffer.concat(parts);
}
