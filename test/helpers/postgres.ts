/**
 * A real PostgreSQL server for tests, and a fresh database per test file.
 *
 * - SLUICE_TEST_PG_URL set (CI): that server is used; each file gets its own
 *   database created on it and dropped after.
 * - otherwise a private server is started (initdb --no-sync in a temp dir,
 *   pg_ctl on a free 127.0.0.1 port, fsync off), as user `postgres` via
 *   `runuser` when running as root. It is shared by the files of one mocha
 *   process and stopped when the last one is done (and at exit).
 * - no PostgreSQL binaries: the tests fail saying so, unless SLUICE_SKIP_PG=1
 *   (then they are skipped). SLUICE_PG_BIN may point at the bin folder.
 *
 * Usage inside a describe():  const pg = usePostgres();  ... pg.url
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { makeTempDir, removeTempDir } from './tmp.js';

export interface PgServer {
  /** URL of the server's `postgres` database (admin connection). */
  adminUrl: string;
  stop(): void;
}

/** Finds a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The folder with initdb and pg_ctl, or null. */
export function findPgBin(): string | null {
  const fromEnv = process.env.SLUICE_PG_BIN;
  if (fromEnv && existsSync(path.join(fromEnv, 'pg_ctl'))) return fromEnv;
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(path.join(root, v, 'bin', 'pg_ctl')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length) return path.join(root, versions[0]!, 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v pg_ctl'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return path.dirname(which.stdout.trim());
  return null;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as `postgres` when we are root (the server refuses to run as root). */
function runPg(bin: string, args: string[]): string {
  const cmd = isRoot ? 'runuser' : bin;
  const argv = isRoot ? ['-u', 'postgres', '--', bin, ...args] : args;
  try {
    return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${path.basename(bin)} failed: ${e.stderr || e.stdout || e.message}`, { cause: err });
  }
}

/** Starts a private server; stop() shuts it down immediately and removes its folder. */
export async function startPrivatePostgres(binDir: string): Promise<PgServer> {
  const base = makeTempDir('sluice-pg');
  const data = path.join(base, 'data');
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
  }
  runPg(path.join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    `-k ${base}`,
    "-c listen_addresses='127.0.0.1'",
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=50',
  ].join(' ');
  try {
    runPg(path.join(binDir, 'pg_ctl'), ['-D', data, '-o', opts, '-l', path.join(base, 'server.log'), '-w', '-t', '30', 'start']);
  } catch (err) {
    const log = existsSync(path.join(base, 'server.log')) ? readFileSync(path.join(base, 'server.log'), 'utf8') : '';
    removeTempDir(base);
    throw new Error(`${(err as Error).message}\n${log}`, { cause: err });
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      runPg(path.join(binDir, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already gone
    }
    removeTempDir(base);
  };
  process.once('exit', stop);
  return { adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
}

let shared: { server: Promise<PgServer>; users: number } | undefined;

async function acquireServer(): Promise<PgServer> {
  const fromEnv = process.env.SLUICE_TEST_PG_URL;
  if (fromEnv) return { adminUrl: fromEnv, stop: () => {} };
  const bin = findPgBin();
  if (!bin) {
    throw new Error(
      'PostgreSQL server binaries not found (looked in SLUICE_PG_BIN, /usr/lib/postgresql/*/bin and PATH). ' +
        'Install PostgreSQL (apt-get install postgresql), or set SLUICE_TEST_PG_URL to a server, ' +
        'or set SLUICE_SKIP_PG=1 to skip the PostgreSQL tests.',
    );
  }
  if (!shared) {
    const server = startPrivatePostgres(bin);
    shared = { server, users: 0 };
    server.catch(() => {
      shared = undefined;
    });
  }
  shared.users++;
  return shared.server;
}

async function releaseServer(): Promise<void> {
  if (process.env.SLUICE_TEST_PG_URL || !shared) return;
  shared.users--;
  if (shared.users <= 0) {
    const s = shared.server;
    shared = undefined;
    (await s).stop();
  }
}

/** The admin URL with another database name. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

let counter = 0;

/** Creates an empty database on the server; returns its URL. */
export async function createDatabase(adminUrl: string, label: string): Promise<string> {
  const name = `sluice_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${++counter}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return withDatabase(adminUrl, name);
}

/** Drops a database made by createDatabase (closing other sessions on it). */
export async function dropDatabase(adminUrl: string, dbUrl: string): Promise<void> {
  const name = decodeURIComponent(new URL(dbUrl).pathname.slice(1));
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export interface PgHandle {
  /** URL of this file's fresh database (set in before()). */
  url: string;
  adminUrl: string;
  /** Another fresh database on the same server (dropped after the file). */
  newDatabase(label: string): Promise<string>;
}

/**
 * Registers before/after hooks in the current describe(): a server and a
 * fresh database for the file. Skips (with a message) only when SLUICE_SKIP_PG=1.
 */
export function usePostgres(label = 'test'): PgHandle {
  const handle: PgHandle = {
    url: '',
    adminUrl: '',
    newDatabase: async (l) => {
      const url = await createDatabase(handle.adminUrl, l);
      extra.push(url);
      return url;
    },
  };
  const extra: string[] = [];
  let acquired = false;
  before(async function () {
    this.timeout(120_000);
    if (process.env.SLUICE_SKIP_PG === '1') {
      console.warn('    (PostgreSQL tests skipped: SLUICE_SKIP_PG=1)');
      this.skip();
    }
    const server = await acquireServer();
    acquired = true;
    handle.adminUrl = server.adminUrl;
    handle.url = await createDatabase(server.adminUrl, label);
    extra.push(handle.url);
  });
  after(async function () {
    this.timeout(60_000);
    if (!acquired) return;
    for (const url of extra.splice(0)) await dropDatabase(handle.adminUrl, url).catch(() => {});
    await releaseServer();
  });
  return handle;
}

/** A private server a test may stop (as an outage would) and start again on the same port. */
export interface RestartablePgServer extends PgServer {
  /** Stops the server: `immediate` drops every connection at once (a crash), `fast` ends sessions first. */
  halt(mode?: 'immediate' | 'fast'): void;
  /** Starts the stopped server again (same port, same data). */
  resume(): void;
}

/**
 * Starts a private server of its own (never the shared one, never
 * SLUICE_TEST_PG_URL's) that the test can stop and start, to play an outage.
 * Needs the PostgreSQL binaries; returns null without them.
 */
export async function startRestartablePostgres(): Promise<RestartablePgServer | null> {
  const bin = findPgBin();
  if (!bin) return null;
  const base = makeTempDir('sluice-pg-outage');
  const data = path.join(base, 'data');
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(base, uid, gid);
  }
  runPg(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const port = await freePort();
  const opts = [`-p ${port}`, `-k ${base}`, "-c listen_addresses='127.0.0.1'", '-c fsync=off', '-c max_connections=50'].join(' ');
  const pgCtl = (args: string[]) => runPg(path.join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const resume = () => pgCtl(['-o', opts, '-l', path.join(base, 'server.log'), '-w', '-t', '30', 'start']);
  resume();
  let removed = false;
  const stop = () => {
    if (removed) return;
    removed = true;
    try {
      pgCtl(['-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    removeTempDir(base);
  };
  process.once('exit', stop);
  return {
    adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    halt: (mode = 'immediate') => void pgCtl(['-m', mode, '-w', 'stop']),
    resume,
  };
}

/** A process a wait watches: one that ends early fails the wait with its stderr. */
interface Watched {
  exitCode: number | null;
  output(): { stderr: string };
}

/**
 * Polls `sql` on `db` until it returns a row (a state reached by processes
 * the test started); returns that row. Errors of the query count as "not
 * yet" (the schema may not be there yet). Fails after `ms`, or as soon as
 * one of `procs` ends.
 */
export async function untilRow<T = Record<string, unknown>>(
  db: pg.Client,
  what: string,
  sql: string,
  o: { ms?: number; everyMs?: number; procs?: Watched[] } = {},
): Promise<T> {
  const end = Date.now() + (o.ms ?? 120_000);
  for (;;) {
    try {
      const r = await db.query(sql);
      if (r.rows.length > 0) return r.rows[0] as T;
    } catch {
      // the schema may not be there yet
    }
    const gone = o.procs?.find((c) => c.exitCode !== null);
    if (gone) throw new Error(`a process ended while waiting for ${what}: ${gone.output().stderr}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
}
