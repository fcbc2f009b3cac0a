/**
 * Errors a user can cause. Each says where and what to do; the CLI prints
 * them without a stack trace unless --verbose.
 */
import type { SourcePos } from './interfaces.js';

export interface SluiceErrorOptions extends ErrorOptions {
  /** false: a retry cannot succeed (see SluiceError.retryable). */
  retryable?: boolean;
  /** Why a retry cannot succeed, when retryable is false (shown as "not retried: <why>"). */
  notRetriedBecause?: string;
}

export class SluiceError extends Error {
  /** Process exit code the CLI uses for this error. */
  exitCode = 1;
  override name = 'SluiceError';
  /**
   * Whether trying the task again may succeed. A try that fails with a
   * non-retryable error fails its task at once, whatever retries are left:
   * bad input data, a wrong password, a full disk fail the same way every
   * time (and waiting retry_delay between them only delays the news).
   */
  retryable: boolean = true;
  /** Why retrying cannot help, when retryable is false. */
  notRetriedBecause: string | undefined;

  constructor(message?: string, options?: SluiceErrorOptions) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.retryable === false) this.markNotRetryable(options.notRetriedBecause ?? 'retrying cannot fix it');
  }

  /** Marks the error as one retrying cannot fix; returns it (for `throw err.markNotRetryable(...)`). */
  markNotRetryable(because: string): this {
    this.retryable = false;
    this.notRetriedBecause = because;
    return this;
  }
}

export interface DagProblem {
  pos: SourcePos;
  /** Field path inside the file, e.g. tasks.stage_events.retries */
  path: string;
  message: string;
}

export function formatProblem(p: DagProblem): string {
  const where = `${p.pos.file}:${p.pos.line}:${p.pos.col}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** One or more problems in one DAG file. */
export class DagFileError extends SluiceError {
  override name = 'DagFileError';
  override exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: DagProblem[],
  ) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export class ConfigError extends SluiceError {
  override name = 'ConfigError';
  override exitCode = 2;
}

export class UsageError extends SluiceError {
  override name = 'UsageError';
  override exitCode = 2;
}

export class ConnectionError extends SluiceError {
  override name = 'ConnectionError';
}

export class TemplateError extends SluiceError {
  override name = 'TemplateError';
}

/** A task's work failed in a way the user should read (a failing check, a rejected load). */
export class TaskFailure extends SluiceError {
  override name = 'TaskFailure';
}

/**
 * A load that could not be done: names the object and line. Retryable by
 * default (an object not there yet may arrive: Airflow users retry for late
 * data); bad lines themselves are not (JsonLoadError: a retry reads the
 * same bytes), nor is a malformed JSONPaths file.
 */
export class LoadError extends SluiceError {
  override name = 'LoadError';
  constructor(
    message: string,
    readonly object?: string,
    readonly line?: number,
    options?: SluiceErrorOptions,
  ) {
    super(message, options);
  }
}

/** An error and the errors in its `cause` chain, outermost first (at most 8: a chain may loop). */
export function* causeChain(err: unknown): Generator<Error> {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) yield e;
}

/** The `notRetriedBecause` of errors in the data itself. */
export const BAD_INPUT_DATA = 'bad input data: a retry reads the same data';

/** OS errors and SQLSTATEs retrying cannot fix, with why (shown as "not retried: <why>"). */
const NOT_RETRYABLE_CODES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  '53100': 'the database server\'s disk is full',
  '28P01': 'the password was refused',
  '28000': 'the server refused the login',
  '42601': 'a SQL syntax error',
};

/**
 * Why retrying cannot fix this error, or null when a retry may succeed.
 * A SluiceError says so itself (`retryable`); otherwise the error's own or
 * its causes' OS error code or SQLSTATE decide (ENOSPC, 53100 disk full,
 * 28P01/28000 authentication, 42601 syntax). Everything else is retryable,
 * as in Airflow: an outage, a timeout, a missing table another DAG creates,
 * a permission an administrator grants.
 */
export function notRetryableReason(err: unknown): string | null {
  for (const e of causeChain(err)) {
    if (e instanceof SluiceError && !e.retryable) return e.notRetriedBecause ?? 'retrying cannot fix it';
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && Object.prototype.hasOwnProperty.call(NOT_RETRYABLE_CODES, code)) {
      return NOT_RETRYABLE_CODES[code]!;
    }
    if (/\bENOSPC\b|No space left on device/.test(e.message)) return NOT_RETRYABLE_CODES.ENOSPC!;
  }
  return null;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The state DB cannot be used: damaged, empty, unreadable, read-only or on a
 * full disk. Names the file and what to do; Sluice never replaces it on its
 * own (that would lose the run history).
 */
export class StateDbError extends SluiceError {
  override name = 'StateDbError';
  constructor(
    message: string,
    readonly file: string,
    options?: SluiceErrorOptions,
  ) {
    super(message, { retryable: false, notRetriedBecause: 'the state DB needs fixing first', ...options });
  }
}
