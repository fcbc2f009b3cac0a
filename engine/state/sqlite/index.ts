/**
 * The embedded state store: one SQLite file (`.sluice/state.db` by default),
 * WAL mode, shared safely by every process of one host (scheduler, run-dag,
 * the CLI's readers). It implements the state interfaces of
 * engine/state/index.ts, one class per aggregate over one connection.
 *
 * Every try is written before it starts and again when it ends, so a crash
 * loses at most the outcome of the tries in flight; recovery finds those on
 * the next start.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StateDbError } from '../../errors.js';
import type { AliveCheck, Orphan, RecoveryStore, StateStore } from '../index.js';
import { SqliteConnectionStore } from './connections.js';
import { SqliteLeaseStore } from './leases.js';
import { SqlitePoolStore } from './pools.js';
import { SqliteWorkStore } from './work.js';
import { SqliteLogStore } from './logs.js';
import { migrations as builtinMigrations, type Migration } from './migrations.js';
import { checkStateFile, createAtomically, openReadOnly, quickCheck, stateDbError } from './open.js';
import { SqliteQualityStore } from './quality.js';
import { hasOrphans, recover } from './recovery.js';
import { Statements } from './rows.js';
import { SqliteRunStore } from './runs.js';
import { SqliteSchedulerStore } from './scheduler.js';
import { SqliteTaskStore } from './tasks.js';

/**
 * Switches a new DB to WAL. The switch needs an exclusive lock and SQLite
 * answers SQLITE_BUSY at once, without the busy timeout, when another
 * process opens the same new file at that moment: retry for up to 5 s.
 */
function enableWal(db: Database.Database): void {
  const until = Date.now() + 5000;
  for (;;) {
    try {
      if (db.pragma('journal_mode', { simple: true }) === 'wal') return;
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > until) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
    }
  }
}

/** Connection settings every state DB connection uses. */
function setUp(db: Database.Database): void {
  // Wait for other processes' locks (first use, migrations) instead of failing.
  db.pragma('busy_timeout = 5000');
  enableWal(db);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

function newerMessage(file: string, current: number, known: number): string {
  return `${file} has schema version ${current}, newer than this Sluice knows (${known}); upgrade Sluice`;
}

/** The schema version of a connection's DB; 0 for a new one. */
function versionOf(db: Database.Database): number {
  if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get()) return 0;
  const row = db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null };
  return row.v ?? 0;
}

export interface SqliteStateOptions {
  migrations?: Migration[];
  /**
   * Open for reading only (`runs list`, `logs`, ...): no migrations, no
   * writes, works on a read-only home. A missing file reads as an empty
   * history (nothing is created); a DB that needs migrating is refused with
   * the command that migrates it.
   */
  readonly?: boolean;
}

export class SqliteStateStore implements StateStore {
  readonly readonly: boolean;
  readonly runs: SqliteRunStore;
  readonly tasks: SqliteTaskStore;
  readonly logs: SqliteLogStore;
  readonly connections: SqliteConnectionStore;
  readonly scheduler: SqliteSchedulerStore;
  readonly recovery: RecoveryStore;
  readonly quality: SqliteQualityStore;
  readonly leases: SqliteLeaseStore;
  readonly work: SqliteWorkStore;
  readonly pools: SqlitePoolStore;
  private readonly db: Database.Database;
  private cleanup: () => void = () => undefined;

  /**
   * Opens (creating when needed) the state DB, checks it (SQLite quick_check
   * when cheap) and applies pending migrations after a backup of it
   * (`state.db.bak-v<version>`). An empty or damaged file is refused with a
   * StateDbError naming it and the fix, never replaced.
   */
  constructor(
    readonly file: string,
    options: SqliteStateOptions = {},
  ) {
    const migrations = options.migrations ?? builtinMigrations;
    this.readonly = Boolean(options.readonly);
    try {
      this.db = this.readonly ? this.openForReading(migrations) : this.openForWriting(migrations);
    } catch (err) {
      throw stateDbError(file, err) ?? err;
    }
    const q = new Statements(this.db);
    this.runs = new SqliteRunStore(q);
    this.tasks = new SqliteTaskStore(q);
    this.logs = new SqliteLogStore(q);
    this.connections = new SqliteConnectionStore(q);
    this.scheduler = new SqliteSchedulerStore(q);
    this.quality = new SqliteQualityStore(q);
    this.leases = new SqliteLeaseStore(q);
    this.work = new SqliteWorkStore(q);
    this.pools = new SqlitePoolStore(q);
    this.recovery = {
      hasOrphans: async (alive?: AliveCheck) => hasOrphans(q, alive),
      recover: async (now: Date, alive?: AliveCheck) =>
        this.readonly ? this.recoverThroughWriter(now, alive) : recover(q, now, alive),
    };
  }

  get location(): string {
    return this.file;
  }

  async schemaVersion(): Promise<number> {
    return versionOf(this.db);
  }

  async close(): Promise<void> {
    this.db.close();
    this.cleanup();
  }

  /**
   * Applies every migration of `list` above the DB's version, all in one
   * IMMEDIATE transaction: two processes opening a new state DB at once
   * apply them once (the second waits, then finds them applied), and a
   * failing migration leaves the DB at the version it had.
   */
  migrate(list: Migration[]): number[] {
    return this.migrateDb(this.db, list, false);
  }

  /**
   * Recovery from a store opened read-only goes through a short writing
   * connection, only when there is something to recover and the state DB is
   * writable (on a read-only home it is left for the next writing command).
   */
  private recoverThroughWriter(now: Date, alive?: AliveCheck): Orphan[] {
    if (!hasOrphans(new Statements(this.db), alive)) return [];
    try {
      fs.accessSync(this.file, fs.constants.W_OK);
      fs.accessSync(path.dirname(this.file), fs.constants.W_OK);
    } catch {
      return [];
    }
    const writer = new SqliteStateStore(this.file);
    try {
      return recover(new Statements(writer.db), now, alive);
    } finally {
      writer.db.close();
    }
  }

  private openForWriting(migrations: Migration[]): Database.Database {
    const file = this.file;
    if (file !== ':memory:') {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      checkStateFile(file);
      if (!fs.existsSync(file)) {
        createAtomically(file, (db) => {
          setUp(db);
          this.migrateDb(db, migrations, false);
        });
      }
    }
    const db = new Database(file); // made above; in place where the file system has no hard links
    try {
      setUp(db);
      quickCheck(db, file);
      this.migrateDb(db, migrations, file !== ':memory:');
      return db;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private openForReading(migrations: Migration[]): Database.Database {
    const file = this.file;
    if (file === ':memory:' || !fs.existsSync(file)) {
      // nothing recorded yet: an empty history, and nothing created
      const db = new Database(':memory:');
      this.migrateDb(db, migrations, false);
      return db;
    }
    checkStateFile(file);
    const { db, cleanup } = openReadOnly(file);
    this.cleanup = cleanup;
    try {
      db.pragma('busy_timeout = 5000');
      quickCheck(db, file);
      const known = Math.max(0, ...migrations.map((m) => m.version));
      const current = versionOf(db);
      if (current > known) throw new StateDbError(newerMessage(file, current, known), file);
      if (current < known) {
        throw new StateDbError(
          `the state DB ${file} has schema version ${current}; this Sluice uses ${known}. This command only reads, so it does not ` +
            'upgrade it: run any command that writes (e.g. sluice scheduler --once, or run-dag) to migrate it; ' +
            `a backup is kept as ${path.basename(file)}.bak-v${current}`,
          file,
        );
      }
      return db;
    } catch (err) {
      db.close();
      cleanup();
      throw err;
    }
  }

  /**
   * migrate() on a given connection. With `backup`, a DB that has history and
   * pending migrations is first copied whole (VACUUM INTO) to
   * `state.db.bak-v<its version>`, so an upgrade can be undone by hand.
   */
  private migrateDb(db: Database.Database, list: Migration[], backup: boolean): number[] {
    const known = Math.max(0, ...list.map((m) => m.version));
    const before = versionOf(db);
    let pending: string | null = null;
    if (backup && before > 0 && before < known) {
      pending = `${this.file}.bak-v${before}.tmp-${process.pid}`;
      fs.rmSync(pending, { force: true });
      db.prepare('VACUUM INTO ?').run(pending);
    }
    try {
      const apply = db.transaction((): number[] => {
        db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
          version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
        const current = versionOf(db);
        if (current > known) throw new StateDbError(newerMessage(this.file, current, known), this.file);
        if (pending && current === before && current < known) {
          const name = `${this.file}.bak-v${current}`;
          fs.renameSync(pending, fs.existsSync(name) ? `${name}-${new Date().toISOString().replace(/[-:.]/g, '')}` : name);
          pending = null;
        }
        const applied: number[] = [];
        for (const m of [...list].sort((a, b) => a.version - b.version)) {
          if (m.version <= current) continue;
          db.exec(m.sql);
          db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
            m.version,
            m.name,
            new Date().toISOString(),
          );
          applied.push(m.version);
        }
        return applied;
      });
      return apply.immediate();
    } finally {
      if (pending) fs.rmSync(pending, { force: true }); // another process upgraded it first (and kept the backup)
    }
  }
}
