/**
 * redshift:// connection URLs.
 *
 *   redshift://user@host:5439/db?password_env=REDSHIFT_PASSWORD&iam_role=arn:aws:iam::1:role/r&region=us-west-2
 *   redshift://user:password@host:5439/db          (a literal password: fine in SLUICE_CONN_*, never stored)
 *
 * Query parameters:
 *   password_env  name of an environment variable holding the password, read at connect time
 *   iam_role      IAM role ARN that COPY uses to read S3 (else credentials from the AWS chain)
 *   region        region of the S3 bucket, for COPY ... REGION
 *   sslmode       verify-full (default) | require (encrypted, certificate not checked) | disable
 */
import { ConnectionError } from '../../../errors.js';
import { invalidUrlHint, redactUrl } from '../../url.js';

export const REDSHIFT_DEFAULT_PORT = 5439;
export const REDSHIFT_DEFAULT_DATABASE = 'dev';

export type RedshiftSslMode = 'verify-full' | 'require' | 'disable';

export interface RedshiftUrl {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The password: from the URL, or the environment variable named by password_env; undefined: pg's own defaults (PGPASSWORD). */
  password: string | undefined;
  passwordEnv: string | undefined;
  iamRole: string | undefined;
  region: string | undefined;
  sslmode: RedshiftSslMode;
}

const PARAMS = ['password_env', 'iam_role', 'region', 'sslmode'] as const;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/**
 * Parses a redshift:// URL. `env` supplies password_env's variable; a
 * missing variable is a ConnectionError naming it (never its value).
 */
export function parseRedshiftUrl(url: string, env: NodeJS.ProcessEnv = process.env): RedshiftUrl {
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new ConnectionError(`invalid redshift URL ${shown}${invalidUrlHint(url)}`);
  }
  if (u.protocol !== 'redshift:') throw new ConnectionError(`not a redshift:// URL: ${shown}`);
  if (!u.hostname) throw new ConnectionError(`redshift URL needs a host (redshift://user@host:5439/db): ${shown}`);
  for (const name of u.searchParams.keys()) {
    if (!(PARAMS as readonly string[]).includes(name)) {
      throw new ConnectionError(`unknown redshift URL parameter '${name}' in ${shown} (known: ${PARAMS.join(', ')})`);
    }
  }
  const user = decodeURIComponent(u.username);
  if (!user) throw new ConnectionError(`redshift URL needs a user (redshift://user@host:5439/db): ${shown}`);
  const q = u.searchParams;
  const passwordEnv = q.get('password_env') || undefined;
  let password = u.password ? decodeURIComponent(u.password) : undefined;
  if (passwordEnv) {
    if (!ENV_NAME.test(passwordEnv)) {
      throw new ConnectionError(`password_env must name an environment variable (letters, digits, _) in ${shown}`);
    }
    if (password !== undefined) {
      throw new ConnectionError(`redshift URL gives both a password and password_env; keep only password_env: ${shown}`);
    }
    password = env[passwordEnv];
    if (password === undefined || password === '') {
      throw new ConnectionError(
        `the redshift password is read from the environment variable ${passwordEnv} (password_env in ${shown}), which is not set`,
      );
    }
  }
  const iamRole = q.get('iam_role') || undefined;
  if (iamRole && !ROLE_ARN.test(iamRole)) {
    throw new ConnectionError(`iam_role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>) in ${shown}`);
  }
  const sslmode = (q.get('sslmode') || 'verify-full') as RedshiftSslMode;
  if (!['verify-full', 'require', 'disable'].includes(sslmode)) {
    throw new ConnectionError(`sslmode must be verify-full, require or disable in ${shown}`);
  }
  const port = u.port ? Number(u.port) : REDSHIFT_DEFAULT_PORT;
  const database = decodeURIComponent(u.pathname.replace(/^\/+/, '')) || REDSHIFT_DEFAULT_DATABASE;
  return {
    host: u.hostname,
    port,
    database,
    user,
    password,
    passwordEnv,
    iamRole,
    region: q.get('region') || undefined,
    sslmode,
  };
}

export interface RedshiftUrlParts {
  host: string;
  port?: number;
  database: string;
  user: string;
  /** Name of the environment variable holding the password (the URL never holds the password itself). */
  passwordEnv?: string;
  iamRole?: string;
  region?: string;
  sslmode?: RedshiftSslMode;
}

/** Builds a redshift:// URL that carries no secret: the password is a password_env reference. */
export function formatRedshiftUrl(p: RedshiftUrlParts): string {
  const q = new URLSearchParams();
  if (p.passwordEnv) q.set('password_env', p.passwordEnv);
  if (p.iamRole) q.set('iam_role', p.iamRole);
  if (p.region) q.set('region', p.region);
  if (p.sslmode && p.sslmode !== 'verify-full') q.set('sslmode', p.sslmode);
  const query = q.toString();
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return (
    `redshift://${encodeURIComponent(p.user)}@${host}:${p.port ?? REDSHIFT_DEFAULT_PORT}/${encodeURIComponent(p.database)}` +
    (query ? `?${query.replace(/%3A/gi, ':').replace(/%2F/gi, '/')}` : '')
  );
}

/** The pg SSL setting for an sslmode. */
export function pgSslOption(mode: RedshiftSslMode): false | { rejectUnauthorized: boolean } {
  if (mode === 'disable') return false;
  return { rejectUnauthorized: mode === 'verify-full' };
}
