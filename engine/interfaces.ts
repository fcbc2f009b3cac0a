/**
 * Public types of the Sluice engine, gathered in one place.
 *
 * Operators import from here (and from `engine/operator.ts`) only; the engine
 * never imports an operator file directly (it goes through operators/index.ts).
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { z } from 'zod';

export type { Logger };

// ---------------------------------------------------------------------------
// Task and run states (Airflow's words)

export const TASK_STATES = [
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'upstream_failed',
  'skipped',
  'up_for_reschedule',
] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** States a task instance never leaves on its own. */
export const FINISHED_STATES: ReadonlySet<TaskState> = new Set(['success', 'failed', 'upstream_failed', 'skipped']);

export const RUN_STATES = ['queued', 'running', 'success', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];

export const RUN_TYPES = ['manual', 'scheduled', 'backfill'] as const;
export type RunType = (typeof RUN_TYPES)[number];

export const TRIGGER_RULES = [
  'all_success',
  'all_done',
  'all_failed',
  'one_success',
  'one_failed',
  'none_failed',
  'always',
] as const;
export type TriggerRule = (typeof TRIGGER_RULES)[number];

// ---------------------------------------------------------------------------
// DAGs

/** A place in a source file, 1-based. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface RetryPolicy {
  retries: number;
  retryDelayMs: number;
  retryExponentialBackoff: boolean;
  maxRetryDelayMs: number | null;
}

export interface TaskSpec extends RetryPolicy {
  id: string;
  operator: string;
  upstream: string[];
  triggerRule: TriggerRule;
  executionTimeoutMs: number | null;
  /** The queue its tries go to when workers run them (`sluice worker --queue`); absent: `default`. */
  queue?: string;
  /** The pool whose slots its tries hold while they run (`sluice pools`); absent: none. */
  pool?: string;
  /** Slots of its pool a try holds (with `pool`; default 1). */
  poolSlots?: number;
  /** Alerts of this task (its own keys, else default_args'); absent: none. */
  alerts?: AlertHooks;
  /** The operator's parameters, validated by its own schema (not yet rendered). */
  params: Record<string, unknown>;
  pos: SourcePos;
}

/** A DAG param, as Airflow's `Param`: a JSON Schema for its value, and its default. */
export interface DagParam {
  /** JSON Schema keywords (type, enum, minimum, ...) the value must satisfy; {} accepts any value. */
  schema: Record<string, unknown>;
  /** false for a required param: a run must set it in its conf */
  hasDefault: boolean;
  default?: unknown;
  /** where the param is declared */
  pos: SourcePos;
}

export interface Dag {
  id: string;
  file: string;
  description: string;
  /** Cron expression or preset; null for manual-only DAGs. */
  schedule: string | null;
  timezone: string;
  startDate: Date | null;
  endDate: Date | null;
  catchup: boolean;
  maxActiveRuns: number;
  maxActiveTasks: number;
  /** Param defaults: what `{{ params.x }}` sees when a run's conf does not set x. */
  params: Record<string, unknown>;
  /** Declared params (name -> schema and default); a run's conf is validated against them. */
  paramSpecs?: Record<string, DagParam>;
  tags: string[];
  tasks: Map<string, TaskSpec>;
  /** task id -> ids of the tasks that list it as upstream */
  downstream: Map<string, string[]>;
  /** task ids in a topological order (stable: file order among ready tasks) */
  order: string[];
  /** DAG-level alerts: on_failure / on_success / on_dq_warning about the run, on_retry about any task. */
  alerts?: AlertHooks;
}

/** Airflow's on_*_callback, declared in the DAG file (see engine/dag/alerts.ts). */
export const ALERT_EVENTS = ['on_failure', 'on_retry', 'on_success', 'on_dq_warning'] as const;
export type AlertEvent = (typeof ALERT_EVENTS)[number];

/** Where an alert goes. Secrets are names of environment variables, read when it is sent. */
export type AlertTarget =
  | { kind: 'webhook'; url: string | null; urlEnv: string | null }
  | {
      kind: 'email';
      to: string[];
      from: string | null;
      subject: string | null;
      smtp: {
        host: string;
        port: number;
        tls: 'starttls' | 'implicit' | 'none';
        userEnv: string | null;
        passwordEnv: string | null;
      };
    }
  | { kind: 'command'; argv: string[] };

export interface AlertSpec {
  target: AlertTarget;
  /** Limit of one attempt. */
  timeoutMs: number;
  /** Attempts after the first. */
  retries: number;
  /** Wait before the first retry; doubles after each. */
  retryDelayMs: number;
  /** A templated path: the report link becomes file://<path> instead of the `sluice report` command line. */
  reportFile: string | null;
}

export type AlertHooks = Partial<Record<AlertEvent, AlertSpec[]>>;

// ---------------------------------------------------------------------------
// Connections

export type Dialect = 'postgres' | 'redshift';

export interface QueryResult<T = Record<string, unknown>> {
  rows: T[];
  rowCount: number;
  fields: { name: string }[];
}

export interface QueryOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends QueryOptions {
  /**
   * Told about entries a listing skipped that the user should hear of: a
   * symlink loop, a file or folder reached twice through links, a broken link.
   */
  onWarning?: (message: string) => void;
}

/** How each JSON record maps to the target table's columns (Redshift `FORMAT AS JSON`). */
export type JsonMapping =
  | { kind: 'auto' }
  | { kind: 'auto ignorecase' }
  /** JSONPaths expressions, one per target column in table column order. `file` names where they came from. */
  | { kind: 'jsonpaths'; paths: string[]; file: string };

export interface JsonLoadSpec {
  /** Target table (validated identifier, optionally schema-qualified). */
  table: string;
  /** Where the objects are. */
  store: ObjectStore;
  /** A key or a prefix in the store; every object under it is loaded. */
  source: string;
  mapping: JsonMapping;
  /**
   * How to read timestamp columns (Redshift TIMEFORMAT): 'auto', 'epochsecs',
   * 'epochmillisecs' or a format string such as 'YYYY-MM-DD HH:MI:SS'.
   */
  timeformat: string;
  /** How to read date columns (Redshift DATEFORMAT): 'auto' or a format string; default 'YYYY-MM-DD'. */
  dateformat?: string;
  /** Round (ROUNDEC) instead of truncating decimals with more fractional digits than the column's scale. */
  roundec?: boolean;
  /** Truncate (TRUNCATECOLUMNS) text longer than its VARCHAR/CHAR column instead of rejecting the line. */
  truncatecolumns?: boolean;
  /** Replace invalid UTF-8 (ACCEPTINVCHARS) with this character instead of rejecting the line. */
  acceptinvchars?: string;
  /** How many rejected lines are tolerated before the load fails (Redshift MAXERROR). */
  maxerror: number;
  /** Redshift server-side COPY only: IAM role ARN. */
  iamRole?: string;
  /** Redshift server-side COPY only: S3 region. */
  region?: string;
}

/** One line the loader refused, like a row of Redshift's stl_load_errors. */
export interface Rejection {
  object: string;
  line: number;
  column: string | null;
  value: string | null;
  reason: string;
}

export interface LoadResult {
  rows: number;
  objects: number;
  bytes: number;
  rejected: Rejection[];
  /** What the load skipped without rejecting a line (a symlink loop, a file linked twice): for the task log. */
  warnings?: string[];
}

/** What can run SQL: a warehouse connection or a transaction on one. */
export interface WarehouseSession {
  readonly dialect: Dialect;
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<QueryResult<T>>;
  /** Bulk-loads newline-delimited (or concatenated) JSON objects with Redshift COPY JSON semantics. */
  loadJson(spec: JsonLoadSpec, opts?: QueryOptions): Promise<LoadResult>;
}

export interface Warehouse extends WarehouseSession {
  readonly kind: 'pglite' | 'postgres' | 'redshift';
  /** The connection URL with secrets removed. */
  readonly url: string;
  /** Runs fn in one transaction: commit when it resolves, rollback when it throws. */
  transaction<T>(fn: (tx: WarehouseSession) => Promise<T>, opts?: QueryOptions): Promise<T>;
  /**
   * Why this connection can no longer be used, once it cannot (an embedded
   * session after a fatal error); null or absent while it is fine. The
   * resolver closes a broken warehouse and opens a fresh one for the next caller.
   */
  readonly broken?: string | null;
  close(): Promise<void>;
}

export interface ObjectInfo {
  key: string;
  size: number;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** The store's URL with secrets removed. */
  readonly url: string;
  /** Every object at or under the prefix (recursive), sorted by key. */
  list(prefix: string, opts?: ListOptions): Promise<ObjectInfo[]>;
  /** The object's bytes as a stream; gzip objects are decompressed transparently. */
  read(key: string, opts?: QueryOptions): Promise<Readable>;
  /** Writes an object (used by the sample generator and tests). */
  write(key: string, body: Buffer | string | Readable): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectionResolver {
  warehouse(name?: string): Promise<Warehouse>;
  objectStore(name?: string): Promise<ObjectStore>;
  /** The URL of a connection with secrets removed (for templates and logs). */
  publicUrl(name: string): string;
  /**
   * The SQL dialect of a warehouse connection (default `warehouse`), from its
   * URL's kind, without opening it. Throws a ConnectionError for an unknown
   * name, a malformed URL, or an object store.
   */
  dialect(name?: string): Dialect;
  names(): string[];
  closeAll(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Operators

export interface TaskContext<P> {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  logicalDate: Date;
  dataIntervalStart: Date;
  dataIntervalEnd: Date;
  /** Parameters after templating. */
  params: P;
  /** Renders a template string with this try's context (strict: unknown names are errors). */
  render(template: string, field?: string): Promise<string>;
  /**
   * A SQL reference from a DAG file: a path ending in `.sql` (relative to the
   * project root) is read and rendered as a template; inline SQL is returned
   * as it is (a templated field was already rendered once by the runner).
   */
  sql(ref: string, field?: string): Promise<string>;
  /** Resolves a path given in a DAG file (relative to the project root). */
  resolvePath(p: string): string;
  warehouse(name?: string): Promise<Warehouse>;
  objectStore(name?: string): Promise<ObjectStore>;
  log: Logger;
  signal: AbortSignal;
  /** Records JSON outputs of this try (row counts, check results); later calls merge keys. */
  record(outputs: Record<string, unknown>): void;
  /** Records lines a load rejected (object, line, column, reason), like Redshift's stl_load_errors. */
  recordRejections(table: string, rejections: Rejection[]): Promise<void>;
  /** The SQL dialect of a warehouse connection, known without opening it. */
  dialect(name?: string): Dialect;
  /** The state DB's connection store (CreateCluster records a cluster's endpoint there). */
  connectionStore: RecordedConnections;
  /** What this task's checks observed in earlier runs of the DAG (row_count_change compares with it). */
  history?: QualityHistory;
  /**
   * Airflow's XCom, typed: the outputs of this task's upstream tasks (direct
   * or transitive), each from its latest successful try, by task id. A
   * template reads the same values as `{{ outputs.<task_id>.<key> }}`.
   */
  outputs?: Record<string, Record<string, unknown>>;
  /** The time as the run loop sees it (an injected clock in tests): reschedule waits are measured on it. */
  now?(): Date;
  /**
   * Sensors' `mode: reschedule`: ends this try without failing it once the
   * operator returns; the task is `up_for_reschedule` until `at`, holding no
   * task slot, and the try does not use up a retry. What the try recorded
   * comes back to the next try as `rescheduled`.
   */
  reschedule?(at: Date): void;
  /** The outputs of the previous try when it was rescheduled (e.g. when the sensor first poked); absent otherwise. */
  rescheduled?: Record<string, unknown>;
  /** Read-only: the states of other DAGs' runs and tasks (ExternalRunSensor's cross-DAG dependencies). */
  runsOf?: OtherRuns;
}

/** The runs of any DAG, as an operator may read them (nothing here changes a run). */
export interface OtherRuns {
  /**
   * The state of DAG `dagId`'s run for `logicalDate` (its task `taskId`'s
   * when given); null when there is no such run (or task instance), or the
   * task has no state yet.
   */
  stateOf(dagId: string, logicalDate: Date, taskId?: string): Promise<TaskState | RunState | null>;
}

/** A task's data quality history, as its operator sees it. */
export interface QualityHistory {
  /**
   * The values check `check` of this task observed in the DAG's last `n`
   * successful runs before this run's logical date, newest first.
   */
  checkValues(check: string, n: number): Promise<{ logicalDate: Date; observed: unknown }[]>;
}

/** Connections recorded at run time; URLs carry no literal secret (use `?password_env=VAR`). */
export interface RecordedConnections {
  setConnection(name: string, url: string, extra?: Record<string, unknown>, by?: string | null): Promise<void>;
  getConnection(name: string): Promise<{ url: string; extra: Record<string, unknown> } | undefined>;
  deleteConnection(name: string): Promise<boolean>;
}

export interface OperatorDef<S extends z.ZodType = z.ZodType> {
  name: string;
  /** One-line summary, shown by `sluice dags schema` and errors. */
  description: string;
  params: S;
  /** Names of top-level parameters whose string values (also inside arrays/objects) are Liquid templates. */
  templated: readonly string[];
  /**
   * The parameter naming the warehouse connection a task of this operator
   * works on (e.g. `connection`): its templates render in that connection's
   * dialect (`{{ dialect }}`, `| sql_literal`). Absent: the `warehouse` connection's.
   */
  connectionParam?: string;
  execute(ctx: TaskContext<z.output<S>>): Promise<void>;
}
