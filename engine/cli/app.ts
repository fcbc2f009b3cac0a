/**
 * What every CLI verb starts from: configuration, the state store (with a
 * report of tries a dead process left running), the operator registry,
 * connections and the DAG folder.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { findProjectFile, loadConfig, type Config } from '../config.js';
import type { ConnectionResolver, Dag } from '../interfaces.js';
import { UsageError } from '../errors.js';
import { createConsoleLogger, createSinkLogger, TaskLogSink } from '../log.js';
import type { Orphan, StateStore } from '../state/index.js';
import { SqliteStateStore } from '../state/sqlite/index.js';
import { PostgresStateStore } from '../state/postgres/index.js';
import { isSqliteError, stateDbError } from '../state/sqlite/open.js';
import { Runs } from '../run/runs.js';
import { type OperatorRegistry, loadPlugins } from '../registry.js';
import { defaultRegistry } from '../../operators/index.js';
import { loadDagsDir } from '../dag/index.js';
import { createConnectionResolver } from '../connections/index.js';
import { registerUrlSecrets } from '../connections/url.js';
import type { RunnerDeps } from '../run/runner.js';
import { didYouMean } from '../dag/suggest.js';
import { buildId, DagCache, useDagCache } from '../dag/cache.js';

export interface GlobalOptions {
  config?: string;
  verbose?: boolean;
  dagsDir?: string;
}

export interface App {
  config: Config;
  store: StateStore;
  /** The run lifecycle (create, rerun, clear, mark, backfill, recover) over `store`. */
  runs: Runs;
  registry: OperatorRegistry;
  log: Logger;
  connections: ConnectionResolver;
  /** Orphaned tries found (and marked failed) when the store was opened. */
  orphans: Orphan[];
  close(): Promise<void>;
}

/** Resolves a path from a DAG file: the project folder (parent of the DAG folder), then the package. */
export function pathResolver(dagsDir: string): (p: string) => string {
  const projectRoot = path.dirname(dagsDir);
  // A file in neither place resolves in the project, where the error message then points.
  return (p: string) => findProjectFile(projectRoot, p) ?? path.resolve(projectRoot, p);
}

export interface OpenAppOptions {
  /**
   * The verb only reads the state DB (runs list, logs, report, ...): it is
   * opened read-only (works on a read-only home), not migrated, and tries
   * left running by dead processes are left for a writing command to mark.
   */
  readonly?: boolean;
}

export async function openApp(
  opts: GlobalOptions,
  registry: OperatorRegistry = defaultRegistry(),
  mode: OpenAppOptions = {},
): Promise<App> {
  const config = loadConfig({ file: opts.config, dagsDir: opts.dagsDir });
  await loadPlugins(registry, config.plugins);
  // Checked DAG files are cached under the home when Sluice's code is known (the bundled CLI) and no plugin is loaded.
  const codeId = buildId();
  if (codeId && config.plugins.length === 0)
    useDagCache(registry, new DagCache(path.join(config.home, 'cache', 'dags'), codeId, registry, findProjectFile));
  const store: StateStore = config.stateUrl
    ? await PostgresStateStore.open(config.stateUrl, { readonly: mode.readonly })
    : new SqliteStateStore(config.stateDbPath, { readonly: mode.readonly });
  const log = createConsoleLogger(opts.verbose ? 'debug' : config.logLevel === 'info' ? 'warn' : config.logLevel);
  const runs = new Runs(store);
  // A reading verb still reports (and, where the home is writable, marks) tries a dead process left running.
  const orphans = await runs.recoverOrphans();
  for (const o of orphans) {
    process.stderr.write(
      `sluice: ${o.runId} task ${o.taskId} try ${o.tryNumber} was left running by process ${o.pid}, which died; ` +
        `marked failed (${o.newState === 'up_for_retry' ? 'it will be retried' : 'no tries left'})\n`,
    );
  }
  const connections = createConnectionResolver(await connectionUrls(config, store), { home: config.home });
  return {
    config,
    store,
    runs,
    registry,
    log,
    connections,
    orphans,
    async close() {
      await connections.closeAll();
      await store.close();
    },
  };
}

/**
 * The state DB failing under a verb (damaged pages, a full disk), as an
 * error that names the file and what to do; null for any other error.
 */
export function stateFailure(app: App, err: unknown): Error | null {
  return (isSqliteError(err) && stateDbError(app.store.location, err)) || null;
}

/**
 * Connection URLs in force: the config file, then the state DB's connection store, then SLUICE_CONN_*.
 * Every URL's secrets are registered for redaction, the URLs hidden by a higher layer too.
 */
export async function connectionUrls(config: Config, store: StateStore): Promise<Record<string, string>> {
  const urls = { ...config.connections };
  for (const c of await store.connections.list()) urls[c.name] = c.url;
  const all = { ...urls, ...config.envConnections };
  for (const url of [...Object.values(config.connections), ...Object.values(all)]) registerUrlSecrets(url);
  return all;
}

/** Loads every DAG file; the named DAG must be among the good ones. */
export function findDag(app: App, dagId: string): Dag {
  const { dags, errors } = loadDagsDir(app.config.dagsDir, app.registry);
  const dag = dags.find((d) => d.id === dagId);
  if (dag) return dag;
  // A broken file that declares this dag id: show its problems.
  const broken = errors.find((e) => fileDeclares(e.file, dagId));
  if (broken) throw broken;
  const known = dags.map((d) => d.id);
  throw new UsageError(
    `no DAG '${dagId}' in ${app.config.dagsDir}` +
      didYouMean(dagId, known) +
      (known.length ? ` Known DAGs: ${known.join(', ')}.` : ' The folder has no valid DAG files.') +
      (errors.length ? ` ${errors.length} DAG file(s) have errors: run 'sluice dags validate'.` : ''),
  );
}

function fileDeclares(file: string, dagId: string): boolean {
  try {
    const src = fs.readFileSync(file, 'utf8');
    return new RegExp(`^dag:\\s*['"]?${dagId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}['"]?\\s*(#.*)?$`, 'm').test(src);
  } catch {
    return false;
  }
}

/** The runner's dependencies for this app; task log lines go to the state DB and, when asked, the console. */
export function runnerDeps(app: App, echo: boolean): Omit<RunnerDeps, 'onEvent'> {
  const sink = new TaskLogSink(
    app.store.logs,
    echo ? { pretty: Boolean(process.stderr.isTTY), write: (s) => process.stderr.write(s) } : null,
  );
  return {
    store: app.store,
    registry: app.registry,
    connections: app.connections,
    logger: createSinkLogger(sink, app.config.logLevel === 'silent' ? 'info' : app.config.logLevel),
    parallelism: app.config.parallelism,
    resolvePath: pathResolver(app.config.dagsDir),
    leaseMs: app.config.scheduler.leaseTimeoutMs,
  };
}
