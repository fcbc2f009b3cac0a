/**
 * What crosses between the main thread and the PGlite worker that is not a
 * type: errors, with PostgreSQL's fields kept. Kept apart from
 * pglite-worker-core.ts so that the main thread, which starts the worker and
 * decodes its replies, loads neither PGlite nor pg itself (about 70 ms of
 * module loading on the way to every embedded warehouse's open, before the
 * worker can even start).
 */
import type { DbErrorLike } from '../sql-error.js';

/** An error as it crosses threads: its message and PostgreSQL's fields, which toSluiceError reads. */
export interface WireError extends DbErrorLike {
  name: string;
  stack?: string;
  /** The WASM instance aborted: the session is gone. */
  fatal?: boolean;
}

const DB_FIELDS = ['code', 'severity', 'position', 'detail', 'hint', 'where'] as const;

export function toWireError(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: WireError = { name: err.name, message: err.message, stack: err.stack };
  const src = err as unknown as Record<string, unknown>;
  for (const k of DB_FIELDS) {
    const v = src[k];
    if (typeof v === 'string' || (k === 'position' && typeof v === 'number')) (out as unknown as Record<string, unknown>)[k] = v;
  }
  // WebAssembly.RuntimeError (an Emscripten abort, an out-of-bounds access, unreachable code)
  if (err.name === 'RuntimeError') out.fatal = true;
  return out;
}

/** An Error with the wire fields back on it (toSluiceError then makes a QueryError of database errors). */
export function fromWireError(w: WireError): Error {
  const err = new Error(w.message);
  err.name = w.name;
  if (w.stack) err.stack = w.stack;
  const dst = err as unknown as Record<string, unknown>;
  for (const k of DB_FIELDS) if (w[k] !== undefined) dst[k] = w[k];
  return err;
}
