/**
 * Transparent gzip: a stream whose key ends in .gz, or whose first bytes are
 * the gzip magic (1f 8b), is decompressed. Corrupt or truncated gzip data is
 * a LoadError naming the object (zlib alone says only "unexpected end of
 * file"); the loader adds the line it had reached.
 */
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BAD_INPUT_DATA, LoadError } from '../../errors.js';

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
 * Returns a stream of the object's plain bytes. Sniffs the first bytes when
 * the key does not say .gz (S3 objects written with Content-Encoding: gzip).
 * `where` names the object in errors (the store URL and key).
 */
export async function decompressIfGzip(src: Readable, key: string, where: string = key): Promise<Readable> {
  if (/\.gz$/i.test(key)) return gunzip(src, where);
  const head = await readHead(src, 2);
  if (head.length === 0) return Readable.from([]);
  const out = new PassThrough();
  const rest = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  out.write(head);
  pipeline(src, out, () => {});
  return rest ? gunzip(out, where) : out;
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
