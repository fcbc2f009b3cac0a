/**
 * The state on a PostgreSQL server (`state: postgres://…` in config, or
 * SLUICE_STATE): the same interfaces as the embedded SQLite store, for
 * several processes or hosts sharing one history. Tables live in their own
 * schema (`?schema=NAME`, default `sluice`), so the state can share a
 * database with other data. Migrations are numbered and applied in one
 * transaction under an advisory lock by whichever process opens it first.
 */
import { StateDbError } from '../../errors.js';
import type { StateStore } from '../index.js';
import { redactUrl } from '../../connections/url.js';
import { PostgresConnectionStore } from './connections.js';
import { Db } from './db.js';
import { importHistory, type ImportReport, type TableRows } from './import.js';
import { PostgresLeaseStore } from './leases.js';
import { PostgresLogStore } from './logs.js';
import { migrations as builtinMigrations, type Migration } from './migrations.js';
import { PostgresQualityStore } from './quality.js';
import { PostgresRecoveryStore } from './recovery.js';
import { PostgresRunStore } from './runs.js';
import { PostgresSchedulerStore } from './scheduler.js';
import { PostgresTaskStore } from './tasks.js';
import { PostgresPoolStore } from './pools.js';
import { PostgresWorkStore } from './work.js';

const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

export interface PostgresStateOptions {
  migrations?: Migration[];
  /** A reading verb: the schema is checked, not migrated. */
  readonly?: boolean;
}

export class PostgresStateStore implements StateStore {
  readonly runs: PostgresRunStore;
  readonly tasks: PostgresTaskStore;
  readonly logs: PostgresLogStore;
  readonly connections: PostgresConnectionStore;
  readonly scheduler: PostgresSchedulerStore;
  readonly recovery: PostgresRecoveryStore;
  readonly quality: PostgresQualityStore;
  readonly leases: PostgresLeaseStore;
  readonly work: PostgresWorkStore;
  readonly pools: PostgresPoolStore;

  private constructor(
    private readonly db: Db,
    readonly location: string,
    readonly schema: string,
    readonly readonly: boolean,
  ) {
    this.runs = new PostgresRunStore(db);
    this.tasks = new PostgresTaskStore(db);
    this.logs = new PostgresLogStore(db);
    this.connections = new PostgresConnectionStore(db);
    this.scheduler = new PostgresSchedulerStore(db);
    this.recovery = new PostgresRecoveryStore(db);
    this.quality = new PostgresQualityStore(db);
    this.leases = new PostgresLeaseStore(db);
    this.work = new PostgresWorkStore(db);
    this.pools = new PostgresPoolStore(db);
  }

  /** Connects, then creates the schema or applies pending migrations (a reader only checks the version). */
  static async open(url: string, o: PostgresStateOptions = {}): Promise<PostgresStateStore> {
    const u = new URL(url);
    const schema = u.searchParams.get('schema') ?? 'sluice';
    if (!SCHEMA.test(schema))
      throw new StateDbError(`state URL ${redactUrl(url)}: schema '${schema}' is not a plain lowercase name`, url);
    u.searchParams.delete('schema');
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: u.toString(),
      max: 5,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'sluice state',
      options: `-c search_path=${schema}`,
    });
    // An idle pooled connection the server drops must not crash the process: the next query gets a fresh one.
    pool.on('error', () => undefined);
    const store = new PostgresStateStore(new Db(pool), redactUrl(url), schema, Boolean(o.readonly));
    try {
      const list = o.migrations ?? builtinMigrations;
      if (store.readonly) await store.checkVersion(list);
      else await store.migrate(list);
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof StateDbError) throw err;
      throw new StateDbError(`cannot open the state on ${redactUrl(url)}: ${(err as Error).message}`, redactUrl(url));
    }
    return store;
  }

  async schemaVersion(): Promise<number> {
    const [r] = await this.db.q<{ v: number | null }>(`SELECT max(version) AS v FROM schema_migrations`);
    return r?.v ?? 0;
  }

  async close(): Promise<void> {
    await this.db.pool.end();
  }

  /** Copies a whole history in (`sluice state migrate`): one transaction, ids kept; refused when this state has runs. */
  importHistory(tables: TableRows[]): Promise<ImportReport> {
    return importHistory(this.db, this.schema, this.location, tables);
  }

  /** A reader does not migrate: it refuses a schema older or newer than this Sluice's, saying what to run. */
  private async checkVersion(list: Migration[]): Promise<void> {
    const known = Math.max(0, ...list.map((m) => m.version));
    const [exists] = await this.db.q<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
    const current = exists?.t ? await this.schemaVersion() : 0;
    if (current === known) return;
    if (current === 0) {
      await this.migrate(list); // nothing recorded yet: an empty history, its tables made so reads find them
      return;
    }
    throw new StateDbError(
      `the state on ${this.location} has schema version ${current}; this Sluice uses ${known}. This command only reads: ` +
        (current < known
          ? 'run any command that writes (e.g. sluice scheduler --once, or run-dag) to migrate it'
          : 'upgrade Sluice'),
      this.location,
    );
  }

  /** Applies the migrations above the schema's version, all in one transaction under an advisory lock. */
  async migrate(list: Migration[]): Promise<number[]> {
    const known = Math.max(0, ...list.map((m) => m.version));
    return this.db.tx(async (q) => {
      await q(`SELECT pg_advisory_xact_lock(hashtextextended('sluice.migrate:' || $1, 0))`, [this.schema]);
      await q(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      await q(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`);
      const [row] = await q<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
      const current = row?.v ?? 0;
      if (current > known) {
        throw new StateDbError(
          `the state on ${this.location} has schema version ${current}, newer than this Sluice knows (${known}); upgrade Sluice`,
          this.location,
        );
      }
      const applied: number[] = [];
      for (const m of [...list].sort((a, b) => a.version - b.version)) {
        if (m.version <= current) continue;
        await q(m.sql);
        await q('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())', [m.version, m.name]);
        applied.push(m.version);
      }
      return applied;
    });
  }
}
