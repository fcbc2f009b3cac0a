/**
 * The redshift warehouse's bulk JSON load: a server-side COPY from the S3
 * lake, then the rejected lines read back from stl_load_errors.
 *
 * - The lake must be an S3 store (Redshift reads S3 itself); a local lake is
 *   a ConnectionError saying what to do.
 * - One COPY from the prefix when every object is plain or every object is
 *   gzip (GZIP); a manifest per kind when they are mixed, when explicit keys
 *   are given, or when Sluice's own helper files sit under the prefix.
 * - A JSONPaths mapping read from a project file is written to the lake
 *   (under _sluice/jsonpaths/) so that Redshift can read it.
 * - Credentials: the IAM role ARN (spec, else the URL's iam_role), else the
 *   lake's AWS credentials, sent in the statement only: logs and errors see
 *   the statement with *** in their place.
 */
import { createHash } from 'node:crypto';
import { ConnectionError, JsonLoadError, LoadError, errorMessage } from '../../../errors.js';
import type {
  JsonLoadSpec,
  LoadResult,
  ObjectInfo,
  ObjectStore,
  QueryOptions,
  QueryResult,
  Rejection,
} from '../../../interfaces.js';
import { isGzipKey } from '../../store/gzip.js';
import { objectUrl, toStoreKey } from '../../store/keys.js';
import {
  buildCopySql,
  buildJsonPathsFile,
  buildManifest,
  LAST_COPY_SQL,
  LOAD_ERRORS_BY_QUERY_SQL,
  LOAD_ERRORS_BY_SESSION_SQL,
  toRejections,
  type CopyAuth,
  type CopySpec,
  type LoadErrorRow,
} from './redshift-copy.js';
import type { S3Location } from '../../url.js';

/** Where Sluice writes the manifests and JSONPaths files COPY reads (inside the lake). */
export const HELPER_PREFIX = '_sluice/';

/** A JsonLoadSpec that may name its objects one by one (loaded through a manifest). */
export interface RedshiftJsonLoadSpec extends JsonLoadSpec {
  /** Explicit object keys (relative to the store or full URLs under it); `source` is then only for messages. */
  keys?: string[];
}

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

/** An S3 object store as the redshift loader needs it (S3ObjectStore has these). */
interface S3StoreLike extends ObjectStore {
  readonly location: S3Location;
  readonly client?: { config: { credentials?: unknown } };
}

/** What a redshift session gives the loader. */
export interface RedshiftCopyTarget {
  /** Runs a statement on the session's connection. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /**
   * Runs the COPY on the session's connection. `shown` is the statement with
   * credentials masked; errors must carry only `shown` and never a value of `secrets`.
   */
  copy(sql: string, shown: string, secrets: string[]): Promise<void>;
  /** Runs a query on another connection (the session's transaction is aborted after a failed COPY). */
  sideQuery<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
  /** The backend pid of the session's connection: stl_load_errors.session. */
  backendPid: number | undefined;
  /** Defaults from the warehouse URL. */
  iamRole?: string;
  region?: string;
  /** Told each statement (credentials masked), for the task log. */
  onStatement?: (shown: string) => void;
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('load aborted');
}

function isS3Store(store: ObjectStore): store is S3StoreLike {
  return store.kind === 's3' && typeof (store as Partial<S3StoreLike>).location === 'object';
}

/** Replaces every secret value in a text by ***. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

/** Loads spec.source from the S3 lake with server-side COPY; throws JsonLoadError above MAXERROR. */
export async function copyJsonFromS3(
  target: RedshiftCopyTarget,
  spec: RedshiftJsonLoadSpec,
  opts: QueryOptions = {},
): Promise<LoadResult> {
  const signal = opts.signal;
  throwIfAborted(signal);
  const store = spec.store;
  if (!isS3Store(store)) {
    throw new ConnectionError(
      `the redshift warehouse loads with a server-side COPY from S3, but the lake ${store.url} is a ${store.kind} store; ` +
        `point the lake connection at the bucket (e.g. SLUICE_CONN_LAKE=s3://bucket/prefix?region=us-west-2) ` +
        `or use a pglite/postgres warehouse for a local lake`,
    );
  }
  const loc = store.location;
  const s3Url = (key: string) => `s3://${loc.bucket}/${loc.prefix}${key}`;
  const base = `s3://${loc.bucket}/${loc.prefix}`;
  const objectName = (url: string) => (url.startsWith(base) ? objectUrl(store.url, url.slice(base.length)) : url);

  const rel = toStoreKey(store.url, spec.source);
  let objects: ObjectInfo[];
  let explicit = false;
  if (spec.keys && spec.keys.length > 0) {
    explicit = true;
    objects = [];
    for (const k of spec.keys) {
      const key = toStoreKey(store.url, k);
      const found = (await store.list(key, opts)).find((o) => o.key === key);
      if (!found) throw new LoadError(`object not found: ${objectUrl(store.url, key)}`, key);
      objects.push(found);
    }
  } else {
    const listed = await store.list(rel, opts);
    objects = listed.filter((o) => !o.key.startsWith(HELPER_PREFIX));
    if (objects.length !== listed.length) explicit = true; // do not let COPY read our helper files
  }
  if (objects.length === 0) {
    throw new LoadError(`no objects under ${objectUrl(store.url, rel)} (nothing to load into ${spec.table})`, rel);
  }
  throwIfAborted(signal);

  const tag = (content: string) => createHash('sha256').update(content).digest('hex').slice(0, 12);
  const tableTag = spec.table.replace(/[^A-Za-z0-9_]/g, '_');
  let json: string;
  if (spec.mapping.kind === 'jsonpaths') {
    if (/^s3:\/\//i.test(spec.mapping.file)) json = spec.mapping.file;
    else {
      const body = buildJsonPathsFile(spec.mapping.paths);
      const key = `${HELPER_PREFIX}jsonpaths/${tableTag}-${tag(body)}.json`;
      await store.write(key, body);
      json = s3Url(key);
    }
  } else json = spec.mapping.kind;

  const auth = await copyAuth(target, spec, store);
  const secrets = auth.kind === 'keys' ? [auth.accessKeyId, auth.secretAccessKey, auth.sessionToken ?? ''] : [];
  const region = spec.region ?? target.region ?? loc.region;

  // One COPY per compression kind: Redshift applies GZIP to every object of a COPY. The key decides, by the
  // rule the local stores follow too (isGzipKey), so an object loads on both paths or on neither.
  const gz = objects.filter((o) => isGzipKey(o.key));
  const plain = objects.filter((o) => !isGzipKey(o.key));
  const groups = [
    { gzip: false, objects: plain },
    { gzip: true, objects: gz },
  ].filter((g) => g.objects.length > 0);
  const useManifest = explicit || groups.length > 1;

  let rows = 0;
  const rejected: Rejection[] = [];
  for (const group of groups) {
    throwIfAborted(signal);
    let from = s3Url(rel);
    if (useManifest) {
      const body = buildManifest(group.objects.map((o) => s3Url(o.key)));
      const key = `${HELPER_PREFIX}manifests/${tableTag}-${tag(body)}.manifest`;
      await store.write(key, body);
      from = s3Url(key);
    }
    const copySpec: CopySpec = {
      table: spec.table,
      from,
      manifest: useManifest,
      auth,
      json,
      timeformat: spec.timeformat,
      dateformat: spec.dateformat,
      roundec: spec.roundec,
      truncatecolumns: spec.truncatecolumns,
      acceptinvchars: spec.acceptinvchars,
      region,
      maxerror: spec.maxerror - rejected.length,
      gzip: group.gzip,
    };
    const sql = buildCopySql(copySpec);
    const shown = buildCopySql(copySpec, { redact: true });
    target.onStatement?.(shown);
    try {
      await target.copy(sql, shown, secrets);
    } catch (err) {
      throwIfAborted(signal);
      throw await describeCopyFailure(target, err, spec, rejected, objectName, secrets);
    }
    const last = (await target.query<{ query_id: number | string; row_count: number | string }>(LAST_COPY_SQL)).rows[0];
    rows += Number(last?.row_count ?? 0);
    const queryId = Number(last?.query_id ?? -1);
    if (queryId >= 0) {
      const errs = await target.query<LoadErrorRow>(LOAD_ERRORS_BY_QUERY_SQL, [queryId]);
      rejected.push(...toRejections(errs.rows, objectName));
    }
  }
  return { rows, objects: objects.length, bytes: objects.reduce((n, o) => n + o.size, 0), rejected };
}

/** IAM role from the spec or the URL; else the lake's credentials from the AWS chain. */
async function copyAuth(target: RedshiftCopyTarget, spec: JsonLoadSpec, store: S3StoreLike): Promise<CopyAuth> {
  const arn = spec.iamRole ?? target.iamRole;
  if (arn) return { kind: 'iam_role', arn };
  const provider = store.location.credentials ?? store.client?.config.credentials;
  let creds: Credentials | undefined;
  try {
    creds =
      typeof provider === 'function'
        ? ((await (provider as () => Promise<Credentials>)()) as Credentials)
        : (provider as Credentials | undefined);
  } catch (err) {
    throw new ConnectionError(
      `COPY into ${spec.table} needs an IAM role (iam_role in the redshift URL, or run the redshift_cluster DAG) ` +
        `or AWS credentials, and none were found: ${errorMessage(err).split('\n')[0]}`,
    );
  }
  if (!creds?.accessKeyId || !creds.secretAccessKey) {
    throw new ConnectionError(
      `COPY into ${spec.table} needs an IAM role (iam_role in the redshift URL) or AWS credentials; none were found`,
    );
  }
  return {
    kind: 'keys',
    accessKeyId: creds.accessKeyId,
    secretAccessKey: creds.secretAccessKey,
    sessionToken: creds.sessionToken,
  };
}

/** A failed COPY: a JsonLoadError with the rejected lines when stl_load_errors has them; else the error, scrubbed. */
async function describeCopyFailure(
  target: RedshiftCopyTarget,
  err: unknown,
  spec: JsonLoadSpec,
  before: Rejection[],
  objectName: (url: string) => string,
  secrets: string[],
): Promise<Error> {
  const message = scrubSecrets(errorMessage(err), secrets);
  if (/stl_load_errors/i.test(message) && target.backendPid !== undefined) {
    let found: Rejection[] = [];
    try {
      found = toRejections(
        (await target.sideQuery<LoadErrorRow>(LOAD_ERRORS_BY_SESSION_SQL, [target.backendPid])).rows,
        objectName,
      );
    } catch {
      // report the COPY's own error below
    }
    if (found.length > 0) {
      const all = [...before, ...found];
      const first = all[0]!;
      const where = `${first.object} line ${first.line}${first.column ? `, column ${first.column}` : ''}`;
      return new JsonLoadError(
        `load into ${spec.table} failed: ${all.length} line(s) rejected, more than MAXERROR ${spec.maxerror}; ` +
          `first at ${where}: ${first.reason}${first.value !== null ? ` (value: ${first.value})` : ''}`,
        first.object,
        first.line,
        all,
      );
    }
  }
  if (err instanceof Error) {
    if (message !== err.message) err.message = message;
    if (err.stack) err.stack = scrubSecrets(err.stack, secrets);
    return err;
  }
  return new Error(message);
}
