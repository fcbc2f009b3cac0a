/**
 * Configuration: config/default.yaml (or --config FILE / SLUICE_CONFIG),
 * then SLUICE_HOME and SLUICE_CONN_<NAME> overrides. Validated with zod;
 * errors name the file and the key.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { duration } from './operator.js';
import { PACKAGE_ROOT } from './package-root.js';
import { redactUrl } from './connections/url.js';

/** The folder holding package.json; it lives in package-root.ts so that `sluice --version` loads no parser. */
export { PACKAGE_ROOT };

/**
 * A file a DAG names (a SQL file), relative to the project folder (the parent
 * of the DAG folder) or else among the files shipped with Sluice; an absolute
 * path as it is. Null when it is in neither.
 */
export function findProjectFile(projectRoot: string, p: string): string | null {
  if (path.isAbsolute(p)) return fs.existsSync(p) ? p : null;
  for (const base of [projectRoot, PACKAGE_ROOT]) {
    const file = path.resolve(base, p);
    if (fs.existsSync(file)) return file;
  }
  return null;
}

export const DEFAULT_CONFIG_FILE = path.join(PACKAGE_ROOT, 'config', 'default.yaml');

const ConfigSchema = z
  .object({
    home: z.string().min(1).default('.sluice'),
    dags_dir: z.string().min(1).default('dags'),
    parallelism: z.number().int().min(1).max(1024).default(8),
    plugins: z.array(z.string().min(1)).default([]),
    log_level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    connections: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/, 'connection names are lowercase letters, digits and _'), z.string().min(1))
      .default({}),
    scheduler: z
      .object({ grace_period: duration.default(30_000), lease_timeout: duration.default(60_000) })
      .strict()
      .default({ grace_period: 30_000, lease_timeout: 60_000 }),
    /** Where runs are recorded: absent, the SQLite file <home>/state.db; or a PostgreSQL server. */
    state: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'a postgres:// URL (omit it for the embedded SQLite state in <home>/state.db)')
      .optional(),
  })
  .strict();

export interface Config {
  /** The file the settings came from. */
  file: string;
  /** Absolute state/data folder. */
  home: string;
  /** Absolute DAG folder. */
  dagsDir: string;
  parallelism: number;
  /** Modules whose exported operators are registered besides the built-in ones (absolute paths). */
  plugins: string[];
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** connection name -> URL, from the config file */
  connections: Record<string, string>;
  /** connection name -> URL, from SLUICE_CONN_<NAME> (these win over everything) */
  envConnections: Record<string, string>;
  /** lease_timeout: a running try whose lease is not renewed this long is failed as "worker lost" and retried. */
  scheduler: { gracePeriodMs: number; leaseTimeoutMs: number };
  stateDbPath: string;
  /** A PostgreSQL state (config `state:`, SLUICE_STATE), or null for the SQLite file at stateDbPath. */
  stateUrl: string | null;
}

export interface LoadConfigOptions {
  file?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** --dags-dir on the command line */
  dagsDir?: string;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const file = path.resolve(cwd, opts.file ?? env.SLUICE_CONFIG ?? DEFAULT_CONFIG_FILE);
  let raw: unknown;
  try {
    const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { prettyErrors: true });
    if (doc.errors.length) throw new ConfigError(`${file}: ${doc.errors[0]!.message}`);
    raw = doc.toJS() ?? {};
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new ConfigError(lines.join('\n'));
  }
  const c = parsed.data;
  const home = path.resolve(cwd, env.SLUICE_HOME || c.home);
  const envConnections: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    const m = /^SLUICE_CONN_([A-Z0-9_]+)$/.exec(k);
    if (m && v) envConnections[m[1]!.toLowerCase()] = v;
  }
  return {
    file,
    home,
    dagsDir: path.resolve(cwd, opts.dagsDir ?? env.SLUICE_DAGS_DIR ?? c.dags_dir),
    parallelism: c.parallelism,
    plugins: [...c.plugins, ...(env.SLUICE_PLUGINS ? env.SLUICE_PLUGINS.split(path.delimiter).filter(Boolean) : [])].map((p) =>
      path.resolve(cwd, p),
    ),
    logLevel: c.log_level,
    connections: c.connections,
    envConnections,
    scheduler: { gracePeriodMs: c.scheduler.grace_period, leaseTimeoutMs: c.scheduler.lease_timeout },
    stateDbPath: path.join(home, 'state.db'),
    stateUrl: stateUrl(env.SLUICE_STATE, c.state),
  };
}

/** SLUICE_STATE wins over the config file; it must be a postgres:// URL (unset it for SQLite). */
function stateUrl(fromEnv: string | undefined, fromFile: string | undefined): string | null {
  if (fromEnv) {
    if (!/^postgres(ql)?:\/\//.test(fromEnv)) {
      throw new ConfigError(
        `SLUICE_STATE must be a postgres:// URL (unset it for the embedded SQLite state), got ${redactUrl(fromEnv)}`,
      );
    }
    return fromEnv;
  }
  return fromFile ?? null;
}
