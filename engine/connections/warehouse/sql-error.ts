/**
 * Database errors as Sluice errors: the message carries PostgreSQL's own
 * message, its detail and hint, and where in the SQL it happened.
 */
import { ConnectionError, QueryError, SluiceError } from '../../errors.js';

/** The fields a PostgreSQL error carries (pg's DatabaseError, PGlite's, or one rebuilt from the PGlite worker). */
export interface DbErrorLike {
  message: string;
  code?: string;
  severity?: string;
  position?: string | number;
  detail?: string;
  hint?: string;
  where?: string;
}

/** Whether an error came from the database server (it has a SQLSTATE and severity). */
export function isDatabaseError(err: unknown): err is DbErrorLike {
  return (
    err instanceof Error &&
    typeof (err as DbErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((err as DbErrorLike).code!) &&
    typeof (err as DbErrorLike).severity === 'string'
  );
}

/** Line and column (1-based) of a 1-based character position in a text. */
export function lineColOf(text: string, position: number): { line: number; col: number } {
  const before = text.slice(0, Math.max(0, position - 1));
  const line = before.split('\n').length;
  const col = position - before.lastIndexOf('\n') - 1;
  return { line, col };
}

/**
 * Turns whatever a driver threw into a Sluice error: a QueryError for server
 * errors (message + detail + hint + position with the offending SQL line),
 * a ConnectionError for network failures (naming the redacted URL).
 */
export function toSluiceError(err: unknown, sql: string | undefined, url: string): Error {
  if (err instanceof SluiceError) return err;
  if (isConnectionLoss(err)) return connectionLost(url, err as Error);
  if (isDatabaseError(err)) {
    let msg = err.message;
    const pos = err.position !== undefined ? Number(err.position) : undefined;
    if (sql && pos && Number.isFinite(pos)) {
      const { line, col } = lineColOf(sql, pos);
      const text = sql.split('\n')[line - 1] ?? '';
      msg += ` (at SQL line ${line}, column ${col}: ${text.trim().slice(0, 200)})`;
    }
    if (err.detail) msg += `\nDETAIL: ${err.detail}`;
    if (err.hint) msg += `\nHINT: ${err.hint}`;
    if (err.where && !sql) msg += `\nCONTEXT: ${err.where}`;
    return new QueryError(msg, err.code, pos);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: string }).code;
  if (code && /^(E[A-Z]+|ETIMEDOUT)$/.test(code)) {
    return new ConnectionError(`${url}: ${e.message}`, { cause: e });
  }
  if (/connection timeout|Client has encountered a connection error/i.test(e.message)) {
    return new ConnectionError(`${url}: ${e.message}`, { cause: e });
  }
  return e;
}

/**
 * SQLSTATEs a session ends with when the server goes away under it:
 * class 08 (connection exception) and 57P01-57P03 (admin shutdown, crash
 * shutdown, cannot connect now: `pg_ctl stop`, a crashed backend, recovery).
 */
const CONNECTION_LOST_STATES = /^(08...|57P0[123])$/;

/** Whether an error means the connection to the server broke (not that a statement was refused). */
export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: string }).code;
  if (typeof code === 'string' && (CONNECTION_LOST_STATES.test(code) || /^(ECONNRESET|EPIPE|ECONNABORTED)$/.test(code))) {
    return true;
  }
  return /Connection terminated unexpectedly|Connection terminated|Client was closed and is not queryable|read ECONNRESET/i.test(
    err.message,
  );
}

/**
 * The error of a query whose connection broke: retryable (the next try gets
 * a fresh connection from the pool), naming the server and what happened.
 */
export function connectionLost(url: string, err: Error): ConnectionError {
  const code = (err as { code?: string }).code;
  const why = code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
  return new ConnectionError(
    `${url}: the connection to the server was lost during the query (${why}); ` +
      'the task is retried under its retry policy on a new connection',
    { cause: err },
  );
}
