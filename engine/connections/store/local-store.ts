/**
 * A folder as an object store. Keys are '/'-separated paths relative to the
 * folder; listing is recursive and matches keys by string prefix, like S3.
 * Symbolic links are followed, each real file and folder once.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { ConnectionError, LoadError } from '../../errors.js';
import type { ListOptions, ObjectInfo, ObjectStore, QueryOptions } from '../../interfaces.js';
import { decompressIfGzip } from './gzip.js';
import { objectUrl, toStoreKey } from './keys.js';

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local' as const;
  /** file:// URL of the folder. */
  readonly url: string;

  constructor(readonly root: string) {
    this.url = pathToFileURL(root).href.replace(/\/+$/, '');
  }

  /**
   * Every file whose key starts with prefix (recursive), sorted by key.
   * Symlinks are followed once: loops and second ways to the same file are
   * skipped and reported through opts.onWarning (see listFolder).
   */
  async list(prefix: string, opts: ListOptions = {}): Promise<ObjectInfo[]> {
    const key = toStoreKey(this.url, prefix);
    const slash = key.lastIndexOf('/');
    const dirKey = slash >= 0 ? key.slice(0, slash) : '';
    const found = await listFolder(this.url, this.root, dirKey, key, opts);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** The file's bytes, gunzipped when the key ends in .gz (see gzip.ts). A missing file is a LoadError naming the key. */
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
    return decompressIfGzip(createReadStream(file, { highWaterMark: 256 * 1024 }), k, objectUrl(this.url, k));
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

/** A file or folder's identity on disk: the same for every path (or link) that reaches it. */
function fileId(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** A symbolic link met while walking, followed after the real folders are listed. */
interface PendingLink {
  key: string;
  full: string;
  /** Identities of the folders on the key's path (the walk's root first): a link to one of them is a loop. */
  ancestors: string[];
}

/**
 * Lists every file whose key starts with `prefix` under root/dirKey.
 *
 * Symbolic links are followed, since users link data into a lake, but each
 * real folder is walked once and each real file listed once, as S3 (which
 * has no links) would hold it once: first the real folders are walked, so a
 * file keeps its own key when it lies under the walked folder; then the links,
 * in key order, each under its own key. A link back to a folder on its own
 * path (a loop), or to a folder or file already listed, is skipped with a
 * warning naming the link; so is a broken link. Without this, a loop such as
 * `song_data/A/loop -> ..` made every song load dozens of times (until the
 * kernel's 40-link limit).
 */
async function listFolder(
  storeUrl: string,
  root: string,
  dirKey: string,
  prefix: string,
  opts: ListOptions,
): Promise<ObjectInfo[]> {
  const { signal } = opts;
  const warn = (message: string) => opts.onWarning?.(message);
  const where = (key: string) => objectUrl(storeUrl, key);
  const whereDir = (key: string) => (key ? `${where(key)}/` : where(key));
  /** Real folder -> the key it is listed under; real file -> its key. */
  const dirs = new Map<string, string>();
  const files = new Map<string, string>();
  const links: PendingLink[] = [];
  const out: ObjectInfo[] = [];
  /** Whether anything under key can match the prefix. */
  const relevant = (key: string) => key.startsWith(prefix) || prefix.startsWith(`${key}/`);

  const walk = async (key: string, dir: string, ancestors: string[]): Promise<void> => {
    if (signal?.aborted) throw signal.reason;
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw new ConnectionError(`cannot list ${dir}: ${(err as Error).message}`);
    }
    const subdirs: Promise<void>[] = [];
    await Promise.all(
      entries.map(async (e) => {
        const k = key ? `${key}/${e.name}` : e.name;
        if (!relevant(k)) return;
        const full = path.join(dir, e.name);
        if (e.isSymbolicLink()) {
          links.push({ key: k, full, ancestors });
        } else if (e.isDirectory()) {
          const id = fileId(await fs.stat(full));
          // A folder met again: below a linked folder that contains it (a loop through a link
          // further up), or a bind mount. List it once all the same.
          const seen = dirs.get(id);
          if (seen !== undefined) {
            if (ancestors.includes(id)) {
              warn(`symlink loop: ${whereDir(k)} is ${whereDir(seen)} again (through a symlink above it); skipped`);
            } else {
              warn(`${whereDir(k)} is the same folder as ${whereDir(seen)}; skipped so its files are not loaded twice`);
            }
            return;
          }
          dirs.set(id, k);
          subdirs.push(walk(k, full, [...ancestors, id]));
        } else if (e.isFile() && k.startsWith(prefix)) {
          const st = await fs.stat(full);
          const id = fileId(st);
          const seen = files.get(id);
          // Two real names of one file (hard links) are two objects, as two S3 keys with equal bytes would be.
          if (seen === undefined || k < seen) files.set(id, k);
          out.push({ key: k, size: st.size });
        }
      }),
    );
    await Promise.all(subdirs);
  };

  const rootDir = dirKey ? path.join(root, ...dirKey.split('/')) : root;
  let rootStat;
  try {
    rootStat = await fs.stat(rootDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return [];
    throw new ConnectionError(`cannot list ${rootDir}: ${(err as Error).message}`);
  }
  if (!rootStat.isDirectory()) return [];
  dirs.set(fileId(rootStat), dirKey);
  await walk(dirKey, rootDir, [fileId(rootStat)]);

  /** Follows one link: lists what it reaches unless that is a loop, already listed, or nothing. */
  const followLink = async (link: PendingLink): Promise<void> => {
    const target = await fs.readlink(link.full).catch(() => '?');
    const named = `${where(link.key)} -> ${target}`;
    let st;
    try {
      st = await fs.stat(link.full);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') warn(`symlink loop: ${named} never reaches a file or folder (${code}); skipped`);
      else if (code === 'ENOENT' || code === 'ENOTDIR') warn(`${named}: broken symlink (nothing is there); skipped`);
      else warn(`${named}: cannot follow the symlink (${(err as Error).message}); skipped`);
      return;
    }
    const id = fileId(st);
    if (st.isDirectory()) {
      if (link.ancestors.includes(id)) {
        warn(`symlink loop: ${named} leads back to a folder that contains it; not followed (each file loads once)`);
        return;
      }
      const seen = dirs.get(id);
      if (seen !== undefined) {
        warn(`${named} is a folder already listed as ${whereDir(seen)}; skipped so its files are not loaded twice`);
        return;
      }
      dirs.set(id, link.key);
      await walk(link.key, link.full, [...link.ancestors, id]);
    } else if (st.isFile() && link.key.startsWith(prefix)) {
      const seen = files.get(id);
      if (seen !== undefined) {
        warn(`${named} is a file already listed as ${where(seen)}; skipped so it is not loaded twice`);
        return;
      }
      files.set(id, link.key);
      out.push({ key: link.key, size: st.size });
    }
  };

  // The links, in key order; those found inside linked folders come in the next round.
  for (let round = links.splice(0); round.length > 0; round = links.splice(0)) {
    round.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const link of round) {
      if (signal?.aborted) throw signal.reason;
      await followLink(link);
    }
  }
  return out;
}
