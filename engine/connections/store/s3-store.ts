/**
 * An S3 bucket prefix as an object store (AWS S3 or any S3-compatible server).
 * Keys are relative to the URL's prefix. Credentials come from the URL
 * (access_key_id/secret_access_key) or else the standard AWS provider chain.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { ConnectionError, LoadError } from '../../errors.js';
import type { ObjectInfo, ObjectStore, QueryOptions } from '../../interfaces.js';
import { decompressIfGzip } from './gzip.js';
import { objectUrl, toStoreKey } from './keys.js';
import { redactUrl, type S3Location } from '../url.js';

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly url: string;
  readonly client: S3Client;

  constructor(
    url: string,
    readonly location: S3Location,
  ) {
    this.url = redactUrl(url);
    this.client = createS3Client(location);
  }

  /** Every object under prefix: ListObjectsV2 without a delimiter, all pages; sorted by key. */
  async list(prefix: string, opts: QueryOptions = {}): Promise<ObjectInfo[]> {
    const rel = toStoreKey(this.url, prefix);
    const base = this.location.prefix;
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.guard(rel, () =>
        this.client.send(
          new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: base + rel, ContinuationToken: token }),
          { abortSignal: opts.signal },
        ),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key || o.Key.endsWith('/')) continue; // folder markers
        out.push({ key: o.Key.slice(base.length), size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** GetObject as a stream (gunzipped when the key ends in .gz, see gzip.ts). A missing key is a LoadError naming it. */
  async read(key: string, opts: QueryOptions = {}): Promise<Readable> {
    const rel = toStoreKey(this.url, key);
    const res = await this.guard(rel, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.location.prefix + rel }), {
        abortSignal: opts.signal,
      }),
    );
    const body = res.Body as Readable | undefined;
    if (!body) return Readable.from([]);
    return decompressIfGzip(body, rel, objectUrl(this.url, rel));
  }

  /** PutObject. A stream body is buffered first (writes are for the generator and tests). */
  async write(key: string, body: Buffer | string | Readable): Promise<void> {
    const rel = toStoreKey(this.url, key);
    let data: Buffer | string;
    if (body instanceof Readable) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
      data = Buffer.concat(parts);
    } else data = body;
    await this.guard(rel, () =>
      this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.location.prefix + rel, Body: data })),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Runs an SDK call, turning its errors into Sluice errors that name the key and the store. */
  private async guard<O>(key: string, call: () => Promise<O>): Promise<O> {
    try {
      return await call();
    } catch (err) {
      throw this.describeError(err, key);
    }
  }

  private describeError(err: unknown, key: string): Error {
    const e = err as Error & { name?: string; code?: string; $metadata?: { httpStatusCode?: number } };
    const where = objectUrl(this.url, key);
    if (e.name === 'AbortError') return e;
    if (e.name === 'NoSuchKey' || (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket')) {
      return new LoadError(`object not found: ${where}`, key);
    }
    if (e.name === 'NoSuchBucket') return new ConnectionError(`bucket ${this.location.bucket} does not exist (${this.url})`);
    const cause = e.code ?? e.name ?? 'Error';
    return new ConnectionError(`S3 request for ${where} failed: ${cause}: ${e.message}`);
  }
}

/** The S3 client for a location: region, endpoint, path style, and checksums only when required. */
export function createS3Client(loc: S3Location): S3Client {
  return new S3Client({
    region: loc.region,
    endpoint: loc.endpoint,
    forcePathStyle: loc.forcePathStyle,
    credentials: loc.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
