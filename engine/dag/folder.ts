/**
 * The DAG folder walk: which files under the DAG folder are DAG files. The
 * loader reads them; the scheduler fingerprints them to notice a change. One
 * walk for both, so that the scheduler reloads exactly when what the loader
 * would read has changed.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { DagsFolderError, errorMessage } from '../errors.js';

/** A folder's entries; the DAG folder itself (top) must be there, a sub-folder removed meanwhile is empty. */
function readFolder(dir: string, top: boolean): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A sub-folder removed while walking (a deploy replacing files) is simply not there.
    if (!top && code === 'ENOENT') return [];
    if (code === 'ENOENT') throw new DagsFolderError(dir, 'missing');
    if (code === 'ENOTDIR') throw new DagsFolderError(dir, 'not a folder');
    throw new DagsFolderError(dir, 'unreadable', code ?? errorMessage(err));
  }
}

/** Throws DagsFolderError when the DAG folder cannot be listed (reads no file, walks no sub-folder). */
export function checkDagsFolder(dir: string): void {
  readFolder(dir, true);
}

/**
 * The *.yaml / *.yml files under a folder (recursively, skipping dot files
 * and dot folders), sorted by name at each level; throws DagsFolderError when
 * the folder itself cannot be listed.
 */
export function dagFiles(dir: string): string[] {
  return walk(dir, true);
}

function walk(dir: string, top: boolean): string[] {
  const entries = readFolder(dir, top);
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, false));
    else if (/\.ya?ml$/i.test(entry.name)) out.push(path);
  }
  return out;
}

/**
 * A fingerprint of the DAG files under a folder (their paths, sizes and
 * mtimes): it changes when any DAG file is added, removed or written, and
 * when the folder goes missing, becomes unreadable or comes back. Cheap: it
 * stats the files and reads none.
 */
export function dagsFolderSignature(dir: string): string {
  let files: string[];
  try {
    files = dagFiles(dir);
  } catch (err) {
    return `unreadable:${errorMessage(err)}`;
  }
  const parts: string[] = [];
  for (const file of files) {
    try {
      const st = statSync(file);
      parts.push(`${file}:${st.size}:${st.mtimeMs}`);
    } catch {
      // removed since the folder was listed: not there
    }
  }
  return parts.join('|');
}
