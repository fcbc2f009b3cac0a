/**
 * A cache of checked DAG files, so that `sluice dags list`, `dags validate`
 * and every command that looks a DAG up skip parsing, validating and
 * template-checking the files that did not change since the last command.
 *
 * One entry per DAG file under `<home>/cache/dags/`, holding what loading the
 * file gave: the `Dag`, or every problem the file has (a DagFileError's list,
 * reported exactly as a fresh load reports it). An entry is used only when
 * everything its result depends on is unchanged:
 * - the file: the path as given and resolved, size, modification and change
 *   times (nanoseconds) and inode, as stat'ed before it was read;
 * - the `.sql` files its templated fields name (resolved again: a file that
 *   appears in the project folder and would now be found first misses too);
 * - Sluice's code (the build id of the bundled CLI: a hash of every source
 *   and bundled package), the operator set, and Node's version with its
 *   time-zone data.
 * Anything else misses, and the file is loaded as if there were no cache.
 * Plugins (whose code can change without any of this changing) turn the
 * cache off, as does running from the sources (no build id).
 *
 * Entries are written atomically (a temporary file renamed over the entry),
 * a `Dag` only when it survives the round trip unchanged (deep-equal with
 * its prototypes); a damaged, unreadable or foreign entry is a miss.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import v8 from 'node:v8';
import type { DagProblem } from '../errors.js';
import type { Dag, SourcePos } from '../interfaces.js';
import type { OperatorRegistry } from '../registry.js';

/** Defined by scripts/build.mjs in the bundled CLI: a hash of every input of the bundle. */
declare const SLUICE_BUILD_ID: string | undefined;

/** The build id of the bundled CLI, or null when running from the sources or tsc's output. */
export function buildId(): string | null {
  return typeof SLUICE_BUILD_ID === 'string' ? SLUICE_BUILD_ID : null;
}

/** Bumped when the entry layout changes. */
const FORMAT = 1;

/** What identifies a file's content without reading it. */
export interface FileStamp {
  size: number;
  mtimeNs: string;
  ctimeNs: string;
  ino: string;
}

/** One `.sql` file looked up while checking templates: where it was looked for, what was found and its stamp. */
export interface SqlRead {
  projectRoot: string;
  ref: string;
  /** the file found, or null when there was none */
  file: string | null;
  stamp: FileStamp | null;
}

/** What loading a file gave. */
export type CachedLoad = { dag: Dag; idPos: SourcePos | undefined } | { problems: DagProblem[] };

interface Entry {
  format: number;
  key: string;
  name: string;
  abs: string;
  stamp: FileStamp;
  reads: SqlRead[];
  result: CachedLoad;
}

/** The stamp of a file, or null when it cannot be stat'ed. */
export function fileStamp(file: string): FileStamp | null {
  try {
    const s = fs.statSync(file, { bigint: true });
    if (!s.isFile()) return null;
    return { size: Number(s.size), mtimeNs: String(s.mtimeNs), ctimeNs: String(s.ctimeNs), ino: String(s.ino) };
  } catch {
    return null;
  }
}

/**
 * Modification times are only as fine as the file system's clock tick: a
 * file changed again within the same tick, to the same size, would keep its
 * stamp. So a file changed in the last seconds is not cached yet (as git
 * treats a "racily clean" index entry).
 */
const RACY_MS = 3000;

function racy(stamp: FileStamp | null, racyMs: number): boolean {
  if (!stamp) return false;
  const since = BigInt(Date.now()) * 1_000_000n - BigInt(racyMs) * 1_000_000n;
  return BigInt(stamp.mtimeNs) > since || BigInt(stamp.ctimeNs) > since;
}

function sameStamp(a: FileStamp | null, b: FileStamp | null): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino;
}

export class DagCache {
  /** Everything an entry depends on besides its files. */
  private readonly key: string;
  private readonly racyMs: number;

  /**
   * @param dir      the cache folder (created on the first write)
   * @param codeId   what names Sluice's code (the build id)
   * @param registry the operators in force
   * @param resolve  how a `.sql` reference is looked up (config.ts's findProjectFile), to check a read again
   * @param opts.racyMs files changed this recently are not cached yet (default 3 s)
   */
  constructor(
    readonly dir: string,
    codeId: string,
    registry: OperatorRegistry,
    private readonly resolve: (projectRoot: string, ref: string) => string | null,
    opts: { racyMs?: number } = {},
  ) {
    this.racyMs = opts.racyMs ?? RACY_MS;
    const v = process.versions;
    this.key = JSON.stringify([FORMAT, codeId, registry.names(), process.version, v.icu ?? '', v.tz ?? '', v.unicode ?? '']);
  }

  private entryFile(name: string, abs: string): string {
    return path.join(this.dir, createHash('sha256').update(`${name}\0${abs}`).digest('hex').slice(0, 32) + '.bin');
  }

  /** The cached result of loading `file` (named `name`), when nothing it depends on changed. */
  get(file: string, name: string): CachedLoad | undefined {
    const abs = path.resolve(file);
    let entry: Entry;
    try {
      entry = v8.deserialize(fs.readFileSync(this.entryFile(name, abs))) as Entry;
    } catch {
      return undefined; // none yet, unreadable or damaged
    }
    if (!entry || entry.format !== FORMAT || entry.key !== this.key || entry.name !== name || entry.abs !== abs) return undefined;
    if (!sameStamp(entry.stamp, fileStamp(abs))) return undefined;
    for (const r of entry.reads) {
      const now = this.resolve(r.projectRoot, r.ref);
      if (now !== r.file || !sameStamp(r.stamp, now === null ? null : fileStamp(now))) return undefined;
    }
    return entry.result;
  }

  /**
   * Records the result of loading `file`, whose stamp was taken before it was
   * read. Never throws: a cache that cannot be written only costs speed.
   */
  put(file: string, name: string, stamp: FileStamp | null, reads: SqlRead[], result: CachedLoad): void {
    if (!stamp || [stamp, ...reads.map((r) => r.stamp)].some((st) => racy(st, this.racyMs))) return;
    const abs = path.resolve(file);
    const entry: Entry = { format: FORMAT, key: this.key, name, abs, stamp, reads, result };
    try {
      const bytes = v8.serialize(entry);
      // Only what comes back exactly as the loader made it (no function, no class instance turned plain).
      if (!isDeepStrictEqual(v8.deserialize(bytes), entry)) return;
      const target = this.entryFile(name, abs);
      fs.mkdirSync(this.dir, { recursive: true });
      const tmp = `${target}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        fs.writeFileSync(tmp, bytes);
        fs.renameSync(tmp, target);
      } catch {
        fs.rmSync(tmp, { force: true });
      }
    } catch {
      // not serializable, or the home is read-only: no entry
    }
  }
}

const caches = new WeakMap<OperatorRegistry, DagCache>();

/** Loads with `registry` use `cache` (the CLI attaches one when it can: see openApp). */
export function useDagCache(registry: OperatorRegistry, cache: DagCache): void {
  caches.set(registry, cache);
}

/** The cache attached to `registry`, if any. */
export function dagCacheOf(registry: OperatorRegistry): DagCache | undefined {
  return caches.get(registry);
}
