/**
 * A folder as an object store. Keys are '/'-separated paths relative to the
 * folder; listing is recursive and matches keys by string prefix, like S3.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { ConnectionError, LoadError } from '../errors.js';
import type { ObjectInfo, ObjectStore, QueryOptions } from '../interfaces.js';
import { decompressIfGzip } from './gzip.js';
import { objectUrl, toStoreKey } from './keys.js';

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;
  /** file:// URL of the folder. */
  readonly url: string;

  constructor(readonly root: string) {
    this.url = pathToFileURL(root).href.replace(/\/+$/, '');
  }

  /** Every file whose key starts with prefix (recursive), sorted by key. */
  async list(prefix: string, opts: QueryOptions = {}): Promise<ObjectInfo[]> {
    const key = toStoreKey(this.url, prefix);
    const slash = key.lastIndexOf('/');
    const dirKey = slash >= 0 ? key.slice(0, slash) : '';
    const found: ObjectInfo[] = [];
    await walkFolder(this.root, dirKey, found, opts.signal);
    return found.filter((o) => o.key.startsWith(key)).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The file's bytes, gunzipped when it is gzip. A missing file is a LoadError naming the key. */
  async read(key: string, _opts: QueryOptions = {}): Promise<Readable> {
    const k = toStoreKey(this.url, key);
    const file = this.pathOf(k);
    let st;
    try {
      st = await fs.stat(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new LoadError(`object not found: ${objectUrl(this.url, k)}`, k);
      }
      throw new ConnectionError(`cannot read ${objectUrl(this.url, k)}: ${(err as Error).message}`);
    }
    if (!st.isFile()) throw new LoadError(`not a file: ${objectUrl(this.url, k)}`, k);
    return decompressIfGzip(createReadStream(file, { highWaterMark: 256 * 1024 }), k);
  }

  /** Writes a file, creating its folders. */
  async write(key: string, body: Buffer | string | Readable): Promise<void> {
    const k = toStoreKey(this.url, key);
    if (!k || k.endsWith('/')) throw new ConnectionError(`not an object key: '${key}'`);
    const file = this.pathOf(k);
    await fs.mkdir(path.dirname(file), { recursive: true });
    if (body instanceof Readable) await pipeline(body, createWriteStream(file));
    else await fs.writeFile(file, body);
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }
}

/** Collects every file under root/dirKey (following symlinks) with its key and size. */
async function walkFolder(root: string, dirKey: string, out: ObjectInfo[], signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  const dir = dirKey ? path.join(root, ...dirKey.split('/')) : root;
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return;
    throw new ConnectionError(`cannot list ${dir}: ${(err as Error).message}`);
  }
  const subdirs: string[] = [];
  await Promise.all(
    entries.map(async (e) => {
      const key = dirKey ? `${dirKey}/${e.name}` : e.name;
      const full = path.join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await fs.stat(full).catch(() => null);
        isDir = !!st?.isDirectory();
        isFile = !!st?.isFile();
      }
      if (isDir) subdirs.push(key);
      else if (isFile) out.push({ key, size: (await fs.stat(full)).size });
    }),
  );
  await Promise.all(subdirs.map((d) => walkFolder(root, d, out, signal)));
}
