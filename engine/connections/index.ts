/**
 * Connections: open a warehouse or an object store from its URL, and a
 * resolver that opens named connections lazily and closes them all.
 *
 * See url.ts for the URL forms.
 */
import { pathToFileURL } from 'node:url';
import { ConnectionError } from '../errors.js';
import type { ConnectionResolver, ObjectStore, Warehouse } from '../interfaces.js';
import { LocalObjectStore } from './store/local-store.js';
import {
  connectionRole,
  parseConnectionUrl,
  pgliteUrlOptions,
  redactUrl,
  type ParsedConnection,
  type UrlContext,
} from './url.js';

export { redactUrl, parseConnectionUrl, type ParsedConnection } from './url.js';
export { parseJsonPaths, readJsonPathsFile } from './copy-json/jsonpaths.js';
export { checkConvertOptions } from './copy-json/convert.js';
export { LocalObjectStore } from './store/local-store.js';
// The drivers (PGlite, pg, the S3 client) load when a connection of their kind opens, not with this module:
// a command that opens none pays nothing for them. Import their classes from their own modules.

export interface OpenOptions {
  /** Directory that relative paths in URLs are resolved against (the Sluice home). */
  home: string;
  /** Stops an open that waits (a PGlite data dir another process holds). */
  signal?: AbortSignal;
}

function describeKind(c: ParsedConnection): string {
  return connectionRole(c) === 'warehouse' ? `a warehouse (${c.kind})` : `an object store (${c.kind})`;
}

/** Opens a warehouse: pglite:..., postgres://..., postgresql://..., redshift://... (its driver loads now). */
export async function openWarehouse(url: string, opts: OpenOptions): Promise<Warehouse> {
  const c = parseConnectionUrl(url, opts);
  const shown = redactUrl(url);
  switch (c.kind) {
    case 'pglite': {
      // ?thread=main|worker&lock_timeout=10m (see pglite.ts) are options, not part of the data dir
      const { base, thread, lockTimeoutMs } = pgliteUrlOptions(url);
      const loc = base === url ? c : parseConnectionUrl(base, opts);
      const { PgliteWarehouse } = await import('./warehouse/pglite/pglite.js');
      return PgliteWarehouse.open(shown, loc.kind === 'pglite' ? loc.dataDir : c.dataDir, {
        thread,
        lockTimeoutMs,
        signal: opts.signal,
      });
    }
    case 'postgres': {
      const { PostgresWarehouse } = await import('./warehouse/postgres.js');
      return PostgresWarehouse.open(shown, c.connectionString);
    }
    case 'redshift': {
      const { RedshiftWarehouse } = await import('./warehouse/redshift/redshift.js');
      return RedshiftWarehouse.open(shown, c.connectionString);
    }
    default:
      throw new ConnectionError(`${shown} is ${describeKind(c)}, not a warehouse`);
  }
}

/** Opens an object store: a folder path, file://..., or s3://bucket/prefix?region=...&endpoint=... */
export async function openObjectStore(url: string, opts: OpenOptions): Promise<ObjectStore> {
  const c = parseConnectionUrl(url, opts);
  switch (c.kind) {
    case 'local':
      return new LocalObjectStore(c.root);
    case 's3': {
      const { S3ObjectStore } = await import('./store/s3-store.js');
      return new S3ObjectStore(url, c);
    }
    default:
      throw new ConnectionError(`${redactUrl(url)} is ${describeKind(c)}, not an object store`);
  }
}

/**
 * The URL shown for a connection in templates and logs: secrets removed, and
 * local folders made absolute file:// URLs (what the store's `url` is).
 */
export function publicConnectionUrl(url: string, ctx: UrlContext): string {
  try {
    const c = parseConnectionUrl(url, ctx);
    if (c.kind === 'local') return pathToFileURL(c.root).href.replace(/\/+$/, '');
  } catch {
    // shown as given (redacted); opening it reports the problem
  }
  return redactUrl(url);
}

/**
 * A resolver over named connection URLs. Each connection is opened on first
 * use and shared (its dialect is known from its URL, without opening it); a failed open is not cached (the next call retries).
 * Default names: `warehouse` and `lake`.
 */
export function createConnectionResolver(urls: Record<string, string>, opts: OpenOptions): ConnectionResolver {
  const opened = new Map<string, Promise<Warehouse | ObjectStore>>();
  /** Aborted by closeAll: an open still waiting (for a PGlite data dir another process holds) gives up. */
  let closing = new AbortController();
  const known = () => Object.keys(urls).sort();
  const urlOf = (name: string): string => {
    const url = Object.prototype.hasOwnProperty.call(urls, name) ? urls[name] : undefined;
    if (url === undefined) {
      throw new ConnectionError(`unknown connection '${name}' (known: ${known().join(', ') || 'none'})`);
    }
    return url;
  };
  const open = <C extends Warehouse | ObjectStore>(name: string, opener: (url: string) => Promise<C>): Promise<C> => {
    const url = urlOf(name);
    let p = opened.get(name) as Promise<C> | undefined;
    if (!p) {
      p = opener(url);
      opened.set(name, p);
      p.catch(() => {
        if (opened.get(name) === p) opened.delete(name);
      });
    }
    return p;
  };
  const roleOf = (name: string): 'warehouse' | 'store' => connectionRole(parseConnectionUrl(urlOf(name), opts));
  return {
    async warehouse(name = 'warehouse') {
      if (roleOf(name) !== 'warehouse') {
        throw new ConnectionError(`connection '${name}' (${redactUrl(urlOf(name))}) is an object store, not a warehouse`);
      }
      const opener = (url: string) => openWarehouse(url, { ...opts, signal: closing.signal });
      const p = open(name, opener);
      const wh = await p;
      if (!wh.broken) return wh;
      // A session that can no longer be trusted (a PGlite session after a WASM abort or a full disk) is
      // discarded, so a retry runs on a fresh one instead of failing again on the old one's state.
      if (opened.get(name) === p) opened.delete(name);
      await wh.close().catch(() => {});
      return open(name, opener);
    },
    async objectStore(name = 'lake') {
      if (roleOf(name) !== 'store') {
        throw new ConnectionError(`connection '${name}' (${redactUrl(urlOf(name))}) is a warehouse, not an object store`);
      }
      return open(name, (url) => openObjectStore(url, opts));
    },
    publicUrl(name) {
      return publicConnectionUrl(urlOf(name), opts);
    },
    dialect(name = 'warehouse') {
      const c = parseConnectionUrl(urlOf(name), opts);
      if (c.kind === 'redshift') return 'redshift';
      if (c.kind === 'pglite' || c.kind === 'postgres') return 'postgres';
      throw new ConnectionError(`connection '${name}' (${redactUrl(urlOf(name))}) is an object store, not a warehouse`);
    },
    names: known,
    async closeAll() {
      const all = [...opened.values()];
      opened.clear();
      closing.abort(new ConnectionError('the connections were closed while this one was opening'));
      closing = new AbortController();
      // connections that never opened have nothing to close
      const results = await Promise.allSettled(
        all.map((p) =>
          p.then(
            (c) => c.close(),
            () => undefined,
          ),
        ),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
