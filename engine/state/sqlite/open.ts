/**
 * Opening the SQLite state DB safely: a new file appears whole (never as a
 * 0-byte file another process could mistake for a damaged one), an empty or
 * damaged file is refused with its path and the fix (never replaced: that
 * would lose the run history), read-only homes can still be read, and SQLite
 * errors become StateDbErrors that say what to do.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StateDbError } from '../../errors.js';

/** The first 16 bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Up to this size, `PRAGMA quick_check` runs on every open (about 1 GB/s: a quarter second at most). */
export const QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024;

/** What to do with a damaged or empty state DB: restore a backup, recover, or start a new history. */
export function recoveryAdvice(file: string): string {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const backups = listBackups(file);
  return (
    'Stop every Sluice process using it, then ' +
    (backups.length
      ? `restore the latest backup: mv ${file} ${file}.broken && cp ${path.join(dir, backups[backups.length - 1]!)} ${file} (backups: ${backups.join(', ')}); or `
      : '') +
    `try to recover what is readable: sqlite3 ${file} .recover | sqlite3 ${path.join(dir, `${base}.recovered`)}, then move that into place; ` +
    `or move it aside to start an empty history: mv ${file} ${file}.broken (with ${base}-wal and ${base}-shm if present)`
  );
}

/** Backups made before migrations (`state.db.bak-v3`, ...), oldest first. */
export function listBackups(file: string): string[] {
  try {
    const base = path.basename(file);
    return fs
      .readdirSync(path.dirname(file))
      .filter((f) => f.startsWith(`${base}.bak-v`))
      .sort(
        (a, b) => fs.statSync(path.join(path.dirname(file), a)).mtimeMs - fs.statSync(path.join(path.dirname(file), b)).mtimeMs,
      );
  } catch {
    return [];
  }
}

/**
 * Refuses a file that cannot be a state DB before SQLite sees it: a 0-byte
 * file (SQLite would silently make it a new, empty database; Sluice never
 * leaves one, see createAtomically) unless a write-ahead log beside it holds
 * the data, and a file that does not start with SQLite's header.
 */
export function checkStateFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return;
  }
  if (!st.isFile())
    throw new StateDbError(
      `the state DB ${file} is not a file; set SLUICE_HOME (or home: in the config) to another folder`,
      file,
    );
  if (st.size === 0) {
    if (fileSize(`${file}-wal`) > 0) return; // SQLite rebuilds it from the write-ahead log
    throw new StateDbError(
      `the state DB ${file} is empty (0 bytes): its run history is gone (a full disk, or a copy that failed?). ` +
        `Sluice does not start a new history over it on its own. ${recoveryAdvice(file)}`,
      file,
    );
  }
  const head = Buffer.alloc(SQLITE_HEADER.length);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (!head.equals(SQLITE_HEADER)) {
    throw new StateDbError(
      `the state DB ${file} is not an SQLite database (its first bytes are not SQLite's header). ${recoveryAdvice(file)}`,
      file,
    );
  }
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return -1;
  }
}

/**
 * Creates a new state DB whole: initialised in a private file beside it,
 * then linked into place, which fails when another process got there first
 * (then its file is used). So `state.db` never exists half-made, and a
 * 0-byte `state.db` always means damage. Where the file system has no hard
 * links, the DB is created in place as before.
 */
export function createAtomically(file: string, init: (db: Database.Database) => void): void {
  const temp = `${file}.new-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    const db = new Database(temp);
    try {
      init(db);
    } finally {
      db.close(); // checkpoints and removes temp-wal and temp-shm: the file alone holds everything
    }
    try {
      fs.linkSync(temp, file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    }
  } finally {
    for (const f of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) fs.rmSync(f, { force: true });
  }
}

/**
 * Opens the state DB for reading only. On a read-only home SQLite cannot
 * create the WAL's shared-memory file beside the DB; then a private copy of
 * the DB (and its log) is read instead, removed on close.
 */
export function openReadOnly(file: string): { db: Database.Database; cleanup: () => void } {
  let db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return { db, cleanup: () => undefined };
  } catch (err) {
    db.close();
    const code = String((err as { code?: string }).code ?? '');
    if (!/^SQLITE_(READONLY|CANTOPEN)/.test(code)) throw err;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-state-read-'));
  const copy = path.join(dir, path.basename(file));
  fs.copyFileSync(file, copy);
  if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
  db = new Database(copy, { fileMustExist: true });
  return { db, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Raises a StateDbError when SQLite's quick_check finds damage (skipped above QUICK_CHECK_MAX_BYTES). */
export function quickCheck(db: Database.Database, file: string): void {
  if (file !== ':memory:' && fileSize(file) > QUICK_CHECK_MAX_BYTES) return;
  const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
  const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
  if (problems.length) {
    throw new StateDbError(
      `the state DB ${file} is damaged (SQLite quick_check: ${problems.join('; ')}). ${recoveryAdvice(file)}`,
      file,
    );
  }
}

/** True for an error SQLite raised (better-sqlite3's SqliteError carries SQLite's code). */
export function isSqliteError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/**
 * A StateDbError for an SQLite or file system error met on the state DB,
 * naming the file and the fix; null when the error is not one of those.
 */
export function stateDbError(file: string, err: unknown): StateDbError | null {
  if (err instanceof StateDbError) return err;
  const e = err as { code?: unknown; message?: string };
  const code = typeof e.code === 'string' ? e.code : '';
  const why = e.message ?? String(err);
  const dir = path.dirname(file);
  const opts = { cause: err };
  if (/^SQLITE_(CORRUPT|NOTADB)/.test(code)) {
    return new StateDbError(`the state DB ${file} is damaged (${why}). ${recoveryAdvice(file)}`, file, opts);
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || (/SQLITE_IOERR/.test(code) && diskFull(dir))) {
    return new StateDbError(
      `the disk holding the state DB ${file} is full (${why}): free space, then run the command again`,
      file,
      opts,
    );
  }
  if (/^SQLITE_READONLY/.test(code) || code === 'EACCES' || code === 'EROFS' || code === 'EPERM') {
    return new StateDbError(
      `the state DB ${file} cannot be written by this user (${why}): this command records runs, so it needs write access to ` +
        `the file and its folder ${dir}. Fix their permissions, or set SLUICE_HOME (or home: in the config) to a writable folder. ` +
        'Commands that only read (runs list, tasks list, logs, report, dags list|show, connections list|get) work without.',
      file,
      opts,
    );
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'ENOENT' || code === 'ENOTDIR') {
    return new StateDbError(
      `cannot open the state DB ${file} (${why}): ${describeFolder(dir)}. ` +
        'Set SLUICE_HOME (or home: in the config) to a writable folder, or fix that one.',
      file,
      opts,
    );
  }
  if (/^SQLITE_IOERR/.test(code)) {
    return new StateDbError(
      `the state DB ${file} could not be read or written (${why}): check the disk and the file`,
      file,
      opts,
    );
  }
  return null;
}

function diskFull(dir: string): boolean {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail === 0;
  } catch {
    return false;
  }
}

/** Why a folder cannot hold the state DB, as far as the file system says. */
function describeFolder(dir: string): string {
  try {
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a folder`;
  } catch {
    return `the folder ${dir} does not exist and could not be created`;
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return `the folder ${dir} is not writable by this user`;
  }
  return diskFull(dir) ? `the disk holding ${dir} is full` : `the folder ${dir} exists and is writable; check the file itself`;
}
