/**
 * Errors a user can cause. Each says where and what to do; the CLI prints
 * them without a stack trace unless --verbose.
 */
import type { Rejection, SourcePos } from './interfaces.js';

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
 * A try that ends the task as `skipped`, not failed (Airflow's
 * AirflowSkipException): a Shell command exiting with its `exit_code_skip`, a
 * sensor with `soft_fail` timing out. The try runner records the try and the
 * task as skipped, and downstream tasks follow their trigger rules (all_success
 * skips them too). Not retryable: where it is not understood as a skip it fails
 * the task at once instead of retrying.
 */
export class TaskSkipped extends SluiceError {
  override name = 'TaskSkipped';
  constructor(message: string) {
    super(message, { retryable: false, notRetriedBecause: 'the task asked to be skipped' });
  }
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

/** A load that failed on bad data; carries every rejection seen so far. */
export class JsonLoadError extends LoadError {
  override name = 'LoadError';
  constructor(
    message: string,
    object: string | undefined,
    line: number | undefined,
    readonly rejected: Rejection[],
  ) {
    // Bad lines fail the same way on every try: not retried (fix the data, then rerun).
    super(message, object, line, { retryable: false, notRetriedBecause: BAD_INPUT_DATA });
  }
}

/** A statement the database refused (syntax error, missing table, constraint, ...). */
export class QueryError extends SluiceError {
  override name = 'QueryError';
  constructor(
    message: string,
    /** SQLSTATE, e.g. 42P01 for an undefined table. */
    readonly code: string | undefined,
    /** 1-based character position in the SQL, when the server gave one. */
    readonly position: number | undefined,
  ) {
    super(message);
  }
}

/** What the holder of an embedded warehouse's lock wrote about itself. */
export interface LockHolderInfo {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** What the process does, e.g. `run songplays__manual__2018-11-22T00:00:00Z (run-dag)`. */
  holder: string;
}

/**
 * The embedded warehouse stayed in use by another process for the whole
 * timeout. Retryable (SluiceError's default): a later try finds it free.
 */
export class WarehouseBusyError extends ConnectionError {
  override name = 'WarehouseBusyError';
  constructor(
    message: string,
    readonly dataDir: string,
    readonly holder: LockHolderInfo | null,
  ) {
    super(message);
  }
}

/**
 * The DAG folder is missing, not a folder, or unreadable: a setup problem
 * (exit 2) that names the folder and where its path comes from.
 */
export class DagsFolderError extends ConfigError {
  override name = 'DagsFolderError';
  constructor(
    readonly dir: string,
    readonly reason: 'missing' | 'not a folder' | 'unreadable',
    detail = '',
  ) {
    const what =
      reason === 'missing' ? 'does not exist' : reason === 'not a folder' ? 'is not a folder' : `cannot be read (${detail})`;
    super(
      `DAG folder ${dir} ${what}. Create it, or point Sluice at the folder holding your DAG files: ` +
        '`dags_dir:` in the config file (relative to the working directory), SLUICE_DAGS_DIR, or --dags-dir <folder>',
    );
  }
}

/**
 * A run's conf does not fit its DAG's params (Airflow's ParamValidationError):
 * an unknown key, a value of the wrong type, a required param left out.
 * Exit 2, as for any input the user must fix before anything runs.
 */
export class ParamValidationError extends SluiceError {
  override name = 'ParamValidationError';
  override exitCode = 2;
}

/**
 * Why a try's AbortSignal was aborted: an execution_timeout, or the run being
 * interrupted. `retryable` false (an interruption that fails the run) fails the
 * task at once, with the abort's message as the reason.
 */
/** A task's pool cannot give it slots: no such pool, or fewer slots than the task needs. */
export class PoolError extends SluiceError {
  override name = 'PoolError';
}

export class TryAbort extends SluiceError {
  override name = 'TryAbort';
  constructor(message: string, retryable: boolean) {
    super(message, { retryable, notRetriedBecause: message });
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
  '53100': "the database server's disk is full",
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

/**
 * A request about DAG runs that the runs' state refuses (as Airflow's
 * DagRunAlreadyExists, DagRunNotFound): a run that exists already or is being
 * executed by another process, no such run or task, a date range with nothing
 * to backfill. The message says what to do; exit 2, as a usage error.
 */
export class RunRequestError extends SluiceError {
  override name = 'RunRequestError';
  override exitCode = 2;
}

/** Another scheduler holds the scheduler lock of a SQLite state (one scheduler at a time there): exit 2. */
export class SchedulerLockError extends SluiceError {
  override name = 'SchedulerLockError';
  override exitCode = 2;
}

/**
 * An alert that cannot be sent as configured (a missing environment variable,
 * a template error): it is logged after one attempt, since retrying cannot
 * help; like every alert failure it never fails the run.
 */
export class AlertConfigError extends SluiceError {
  override name = 'AlertConfigError';
  constructor(message: string) {
    super(message, { retryable: false, notRetriedBecause: 'the alert is misconfigured' });
  }
}
