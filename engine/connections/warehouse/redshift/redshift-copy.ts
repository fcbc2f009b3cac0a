/**
 * The text of Redshift's server-side `COPY ... FROM 's3://...' FORMAT AS JSON`,
 * its manifest, and the read-back of rejected lines from stl_load_errors.
 * Pure functions: golden tests pin every option.
 */
import { LoadError } from '../../../errors.js';
import type { Rejection } from '../../../interfaces.js';
import { quoteIdent } from '../../../operator.js';

export type CopyAuth =
  | { kind: 'iam_role'; arn: string }
  /** Keys from the AWS credential chain: sent to Redshift only, never logged or stored. */
  | { kind: 'keys'; accessKeyId: string; secretAccessKey: string; sessionToken?: string };

export interface CopySpec {
  /** Target table: a validated identifier, optionally schema-qualified. */
  table: string;
  /** s3:// URL of a prefix (every object under it is loaded) or, with manifest, of the manifest file. */
  from: string;
  manifest: boolean;
  auth: CopyAuth;
  /** 'auto', 'auto ignorecase', or the s3:// URL of a JSONPaths file. */
  json: string;
  /** TIMEFORMAT: 'auto', 'epochsecs', 'epochmillisecs' or a format string. */
  timeformat: string;
  /** DATEFORMAT, when not Redshift's default 'YYYY-MM-DD'. */
  dateformat?: string;
  roundec?: boolean;
  truncatecolumns?: boolean;
  /** ACCEPTINVCHARS AS this replacement character. */
  acceptinvchars?: string;
  region?: string;
  maxerror: number;
  gzip: boolean;
}

/** Redshift's upper bound for MAXERROR (copy-parameters-data-load). */
export const MAX_MAXERROR = 100000;

export interface CopySqlOptions {
  /** Replace credentials with *** (for logs and error messages). */
  redact?: boolean;
}

const MASK = '***';

/** A single-quoted SQL string literal; backslashes and control characters are refused (Redshift reads them as escapes). */
export function sqlString(value: string, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f]/.test(value)) {
    throw new LoadError(`${what} must not contain backslashes or control characters: ${JSON.stringify(value)}`);
  }
  return `'${value.replace(/'/g, "''")}'`;
}

/** The COPY statement, one clause per line (credentials on their own lines, so errors can show the rest). */
export function buildCopySql(spec: CopySpec, options: CopySqlOptions = {}): string {
  const secret = (v: string, what: string) => (options.redact ? `'${MASK}'` : sqlString(v, what));
  if (!Number.isInteger(spec.maxerror) || spec.maxerror < 0 || spec.maxerror > MAX_MAXERROR)
    throw new LoadError(`MAXERROR must be a whole number from 0 to ${MAX_MAXERROR}, not ${spec.maxerror}`);
  if (!/^s3:\/\//.test(spec.from)) throw new LoadError(`COPY source must be an s3:// URL, not ${spec.from}`);
  const json = spec.json;
  if (json !== 'auto' && json !== 'auto ignorecase' && !/^s3:\/\//.test(json)) {
    throw new LoadError(`FORMAT AS JSON takes 'auto', 'auto ignorecase' or the s3:// URL of a JSONPaths file, not ${json}`);
  }
  const lines = [`COPY ${quoteIdent(spec.table)}`, `FROM ${sqlString(spec.from, 'COPY source')}`];
  if (spec.auth.kind === 'iam_role') {
    lines.push(`IAM_ROLE ${sqlString(spec.auth.arn, 'IAM role')}`);
  } else {
    lines.push(`ACCESS_KEY_ID ${secret(spec.auth.accessKeyId, 'access key id')}`);
    lines.push(`SECRET_ACCESS_KEY ${secret(spec.auth.secretAccessKey, 'secret access key')}`);
    if (spec.auth.sessionToken) lines.push(`SESSION_TOKEN ${secret(spec.auth.sessionToken, 'session token')}`);
  }
  if (spec.manifest) lines.push('MANIFEST');
  lines.push(`FORMAT AS JSON ${sqlString(json, 'JSON format')}`);
  lines.push(`TIMEFORMAT ${sqlString(spec.timeformat, 'TIMEFORMAT')}`);
  if (spec.dateformat !== undefined && spec.dateformat !== 'YYYY-MM-DD') {
    lines.push(`DATEFORMAT ${sqlString(spec.dateformat, 'DATEFORMAT')}`);
  }
  if (spec.roundec) lines.push('ROUNDEC');
  if (spec.truncatecolumns) lines.push('TRUNCATECOLUMNS');
  if (spec.acceptinvchars !== undefined) {
    lines.push(`ACCEPTINVCHARS AS ${sqlString(spec.acceptinvchars, 'ACCEPTINVCHARS replacement')}`);
  }
  if (spec.region) {
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(spec.region)) throw new LoadError(`not an AWS region: ${spec.region}`);
    lines.push(`REGION ${sqlString(spec.region, 'region')}`);
  }
  lines.push(`MAXERROR ${spec.maxerror}`);
  if (spec.gzip) lines.push('GZIP');
  lines.push('COMPUPDATE OFF');
  lines.push('STATUPDATE OFF');
  return lines.join('\n');
}

/** A COPY manifest listing exactly these s3:// URLs, each mandatory. */
export function buildManifest(urls: string[]): string {
  return JSON.stringify({ entries: urls.map((url) => ({ url, mandatory: true })) }, null, 2) + '\n';
}

/** A JSONPaths file for COPY ... FORMAT AS JSON 's3://...'. */
export function buildJsonPathsFile(paths: string[]): string {
  return JSON.stringify({ jsonpaths: paths }, null, 2) + '\n';
}

/** The query id and row count of the session's last COPY. */
export const LAST_COPY_SQL = 'SELECT pg_last_copy_id() AS query_id, pg_last_copy_count() AS row_count';

/** Rejected lines of one COPY (by its query id); the char columns are blank-padded, hence TRIM. */
export const LOAD_ERRORS_BY_QUERY_SQL = `
SELECT TRIM(filename) AS filename, line_number, TRIM(colname) AS colname,
       TRIM(raw_field_value) AS raw_field_value, err_code, TRIM(err_reason) AS err_reason
  FROM stl_load_errors
 WHERE query = $1
 ORDER BY filename, line_number
 LIMIT 10000`;

/**
 * Rejected lines of the latest COPY of a session (its backend pid): read from
 * another connection after a COPY failed and aborted its transaction.
 */
export const LOAD_ERRORS_BY_SESSION_SQL = `
SELECT TRIM(filename) AS filename, line_number, TRIM(colname) AS colname,
       TRIM(raw_field_value) AS raw_field_value, err_code, TRIM(err_reason) AS err_reason
  FROM stl_load_errors
 WHERE session = $1
   AND query = (SELECT max(query) FROM stl_load_errors WHERE session = $1)
 ORDER BY filename, line_number
 LIMIT 10000`;

export interface LoadErrorRow {
  filename: string | null;
  line_number: number | string | null;
  colname: string | null;
  raw_field_value: string | null;
  err_code: number | string | null;
  err_reason: string | null;
}

/**
 * stl_load_errors rows as Rejections, like the local loaders record them:
 * `object` names the object through `objectName` (the store URL + key).
 */
export function toRejections(rows: LoadErrorRow[], objectName: (s3Url: string) => string = (u) => u): Rejection[] {
  return rows.map((r) => {
    const value = r.raw_field_value?.trim() ?? '';
    const column = r.colname?.trim() ?? '';
    const reason = (r.err_reason ?? '').trim() || 'rejected by Redshift COPY';
    return {
      object: objectName((r.filename ?? '').trim()),
      line: Number(r.line_number ?? 0),
      column: column || null,
      value: value === '' ? null : value,
      reason: r.err_code !== null && r.err_code !== undefined && r.err_code !== '' ? `${reason} (error ${r.err_code})` : reason,
    };
  });
}
