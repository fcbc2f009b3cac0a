/**
 * Connection URLs: parsing into a typed description, and redaction for display.
 *
 * Warehouses:
 *   pglite:///abs/dir      PGlite data dir (created on first use)
 *   pglite:rel/dir         relative to the Sluice home
 *   pglite://memory        in-memory PGlite (gone when closed)
 *   postgres://user:pass@host:port/db   (also postgresql://)
 *   redshift://user:pass@host:5439/db
 * Object stores:
 *   file:///abs/dir, file:rel/dir, or a plain path (relative to home)
 *   s3://bucket/prefix?region=..&endpoint=..&path_style=true
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConnectionError } from '../errors.js';
import { parseDuration } from '../duration.js';
import { registerSecret, urlPasswordSpan } from '../redact.js';

export interface UrlContext {
  /** Directory that relative paths are resolved against (the Sluice home). */
  home: string;
}

export interface S3Location {
  bucket: string;
  /** Key prefix of the store inside the bucket: '' or ending in '/'. */
  prefix: string;
  region: string;
  endpoint: string | undefined;
  forcePathStyle: boolean;
  /** Explicit credentials from the URL; otherwise the standard AWS chain is used. */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export type ParsedConnection =
  | { kind: 'pglite'; dataDir: string | null }
  | { kind: 'postgres'; connectionString: string }
  | { kind: 'redshift'; connectionString: string }
  | { kind: 'local'; root: string }
  | ({ kind: 's3' } & S3Location);

export type ConnectionRole = 'warehouse' | 'store';

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const MASK = '***';
/** Query parameters whose values are secrets. */
const SECRET_PARAM = /pass|secret|token|key|credential|signature/i;
const S3_PARAMS = ['region', 'endpoint', 'path_style', 'access_key_id', 'secret_access_key', 'session_token'];

/** Whether a parsed connection is a warehouse or an object store. */
export function connectionRole(c: ParsedConnection): ConnectionRole {
  return c.kind === 'pglite' || c.kind === 'postgres' || c.kind === 'redshift' ? 'warehouse' : 'store';
}

/**
 * Removes secrets from a connection URL: the userinfo password and every query
 * parameter whose name looks secret (password, secret_access_key, token, ...).
 * The password is found as written, not as a URL parser reads it: a password
 * holding '/', '?', '#', '@', ':', '%', spaces or any other character is
 * masked whole (see urlPasswordSpan). Anything that is not a URL is returned
 * unchanged.
 */
export function redactUrl(url: string): string {
  const span = passwordSpanOf(url);
  let out = span ? url.slice(0, span.start) + MASK + url.slice(span.end) : url;
  // A '?' inside the password is not the query's start.
  const q = out.indexOf('?', span ? span.start + MASK.length : 0);
  if (q >= 0) {
    const hashAt = out.indexOf('#', q);
    const end = hashAt >= 0 ? hashAt : out.length;
    const query = out
      .slice(q + 1, end)
      .split('&')
      .map((pair) => {
        const eq = pair.indexOf('=');
        if (eq < 0) return pair;
        // access_key_id is not secret; *_env names an environment variable (a reference, not the secret)
        return isSecretParam(safeDecode(pair.slice(0, eq))) ? `${pair.slice(0, eq)}=${MASK}` : pair;
      })
      .join('&');
    out = out.slice(0, q + 1) + query + out.slice(end);
  }
  return out;
}

/** Where the userinfo password of a `scheme://` URL lies (see urlPasswordSpan), or null. */
function passwordSpanOf(url: string): { start: number; end: number } | null {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  return scheme ? urlPasswordSpan(url, scheme[0].length, url.length) : null;
}

function isSecretParam(name: string): boolean {
  return SECRET_PARAM.test(name) && !/^access_key_id$|_env$/i.test(name);
}

/**
 * Registers the secrets a connection URL holds (its password, as written and
 * decoded, and secret query values), so that redaction masks them wherever
 * they appear later, even where no URL shape is left around them (a driver's
 * message, a password with a space in it).
 */
export function registerUrlSecrets(url: string): void {
  const span = passwordSpanOf(url);
  if (span) registerSecretForms(url.slice(span.start, span.end));
  const q = url.indexOf('?');
  if (q < 0) return;
  for (const pair of url.slice(q + 1).split(/[&#]/)) {
    const eq = pair.indexOf('=');
    if (eq > 0 && isSecretParam(safeDecode(pair.slice(0, eq)))) registerSecretForms(pair.slice(eq + 1));
  }
}

function registerSecretForms(raw: string): void {
  const decoded = safeDecode(raw);
  for (const v of [raw, decoded, encodeURIComponent(decoded)]) registerSecret(v);
}

/**
 * Why a URL that does not parse fails, without its password: a password
 * holding '/', '?', '#' or a space ends the host part early as URL parsers
 * read it; percent-encoding those characters is the fix.
 */
export function invalidUrlHint(url: string): string {
  const span = passwordSpanOf(url);
  const reserved = span ? [...new Set(url.slice(span.start, span.end).match(/[/?#@:% ]/g) ?? [])] : [];
  if (!reserved.length) return ' (expected scheme://user:password@host:port/path; percent-encode reserved characters)';
  return (
    `: its password holds ${reserved.map((c) => `'${c}'`).join(', ')}, which a URL cannot hold as written; ` +
    `percent-encode them (${reserved.map((c) => `${c === ' ' ? 'space' : c} as ${encodeURIComponent(c)}`).join(', ')}), ` +
    'or keep the password out of the URL (PGPASSWORD for postgres://, ?password_env=VAR for redshift://)'
  );
}

/** The store location part of a URL (no query string), used to recognise full URLs given as keys. */
export function urlLocation(url: string): string {
  const q = url.indexOf('?');
  return (q >= 0 ? url.slice(0, q) : url).replace(/\/+$/, '');
}

/** Parses a connection URL (or a plain folder path) into a typed description. */
export function parseConnectionUrl(url: string, ctx: UrlContext): ParsedConnection {
  const trimmed = url.trim();
  if (!trimmed) throw new ConnectionError('empty connection URL');
  const m = SCHEME.exec(trimmed);
  // A bare path: no scheme (a one-letter "scheme" would be a Windows drive).
  if (!m || m[1]!.length === 1) return { kind: 'local', root: path.resolve(ctx.home, trimmed) };
  const scheme = m[1]!.toLowerCase();
  const rest = trimmed.slice(m[0].length);
  switch (scheme) {
    case 'pglite':
      return parsePglite(rest, ctx, url);
    case 'postgres':
    case 'postgresql':
      checkParses(trimmed);
      return { kind: 'postgres', connectionString: trimmed };
    case 'redshift':
      checkParses(trimmed);
      return { kind: 'redshift', connectionString: trimmed };
    case 'file':
      return { kind: 'local', root: parseFilePath(trimmed, rest, ctx) };
    case 's3':
      return { kind: 's3', ...parseS3(trimmed) };
    default:
      throw new ConnectionError(
        `unsupported connection URL scheme '${scheme}:' in ${redactUrl(url)} ` +
          '(expected pglite:, postgres://, redshift://, file://, s3:// or a folder path)',
      );
  }
}

function parsePglite(rest: string, ctx: UrlContext, url: string): ParsedConnection {
  let p = rest;
  if (p.startsWith('//')) {
    p = p.slice(2);
    if (p === 'memory' || p === 'memory/') return { kind: 'pglite', dataDir: null };
    // pglite:///abs -> '/abs'; pglite://rel/dir is accepted as relative.
  }
  p = safeDecode(p.split('?')[0]!);
  if (!p) throw new ConnectionError(`pglite URL needs a data directory or //memory: ${redactUrl(url)}`);
  return { kind: 'pglite', dataDir: path.resolve(ctx.home, p) };
}

function parseFilePath(full: string, rest: string, ctx: UrlContext): string {
  if (rest.startsWith('//')) {
    try {
      return fileURLToPath(full);
    } catch (err) {
      throw new ConnectionError(`invalid file URL ${redactUrl(full)}: ${(err as Error).message}`);
    }
  }
  return path.resolve(ctx.home, safeDecode(rest));
}

function parseS3(url: string): S3Location {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConnectionError(`invalid S3 URL ${redactUrl(url)}${invalidUrlHint(url)}`);
  }
  const bucket = u.hostname;
  if (!bucket) throw new ConnectionError(`S3 URL needs a bucket (s3://bucket/prefix): ${redactUrl(url)}`);
  for (const name of u.searchParams.keys()) {
    if (!S3_PARAMS.includes(name)) {
      throw new ConnectionError(`unknown S3 URL parameter '${name}' in ${redactUrl(url)} (known: ${S3_PARAMS.join(', ')})`);
    }
  }
  let prefix = safeDecode(u.pathname).replace(/^\/+/, '');
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  const q = u.searchParams;
  const endpoint = q.get('endpoint') || process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL || undefined;
  const ps = q.get('path_style');
  const forcePathStyle = ps === null ? endpoint !== undefined : /^(1|true|yes)$/i.test(ps);
  const region = q.get('region') || process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
  const accessKeyId = q.get('access_key_id');
  const secretAccessKey = q.get('secret_access_key');
  if (!!accessKeyId !== !!secretAccessKey) {
    throw new ConnectionError(`S3 URL gives only one of access_key_id and secret_access_key: ${redactUrl(url)}`);
  }
  const sessionToken = q.get('session_token') ?? undefined;
  return {
    bucket,
    prefix,
    region,
    endpoint,
    forcePathStyle,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken } : undefined,
  };
}

function checkParses(url: string): void {
  try {
    new URL(url);
  } catch {
    throw new ConnectionError(`invalid connection URL ${redactUrl(url)}${invalidUrlHint(url)}`);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// -- pglite URL options ----------------------------------------------------------

/** Where PGlite runs: a worker thread (default) or the calling thread. */
export type PgliteThread = 'worker' | 'main';

/** How long a second process waits for an embedded warehouse by default (pglite URL option `lock_timeout`). */
export const DEFAULT_LOCK_TIMEOUT_MS = 10 * 60_000;

/**
 * The options of a pglite URL (`thread`, `lock_timeout`), and the URL
 * without its query string (what the URL parser takes for the location).
 */
export function pgliteUrlOptions(url: string): { base: string; thread: PgliteThread; lockTimeoutMs: number } {
  const q = url.indexOf('?');
  if (q < 0) return { base: url, thread: 'worker', lockTimeoutMs: DEFAULT_LOCK_TIMEOUT_MS };
  const params = new URLSearchParams(url.slice(q + 1));
  const thread = params.get('thread') ?? 'worker';
  if (thread !== 'worker' && thread !== 'main') {
    throw new ConnectionError(`pglite URL option thread=${thread} is not one of worker, main: ${url}`);
  }
  let lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS;
  const lt = params.get('lock_timeout');
  if (lt !== null) {
    try {
      lockTimeoutMs = parseDuration(lt);
    } catch (err) {
      throw new ConnectionError(`pglite URL option lock_timeout=${lt}: ${(err as Error).message}: ${url}`);
    }
  }
  return { base: url.slice(0, q), thread, lockTimeoutMs };
}
