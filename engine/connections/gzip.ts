/**
 * Transparent gzip: a stream whose key ends in .gz, or whose first bytes are
 * the gzip magic (1f 8b), is decompressed.
 */
import { PassThrough, Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';

/** Pipes through gunzip, forwarding errors from either side to the result. */
function gunzip(src: Readable): Readable {
  const gz = createGunzip();
  pipeline(src, gz, () => {
    // errors reach the consumer through gz
  });
  return gz;
}

/**
 * Returns a stream of the object's plain bytes. Sniffs the first bytes when
 * the key does not say .gz (S3 objects written with Content-Encoding: gzip).
 */
export async function decompressIfGzip(src: Readable, key: string): Promise<Readable> {
  if (/\.gz$/i.test(key)) return gunzip(src);
  const head = await readHead(src, 2);
  if (head.length === 0) return Readable.from([]);
  const out = new PassThrough();
  const rest = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  out.write(head);
  pipeline(src, out, () => {});
  return rest ? gunzip(out) : out;
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
