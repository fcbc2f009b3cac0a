/**
 * Temporary folders for tests, removed by `removeTempDirs()` (or at exit).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const created = new Set<string>();

/** A new empty folder under the OS temp dir. */
export function makeTempDir(label = 'sluice-test'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `${label}-`));
  created.add(dir);
  return dir;
}

/** Removes one folder made by makeTempDir (or any folder). */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  created.delete(dir);
}

/** Removes every folder made by makeTempDir and not yet removed. */
export function removeTempDirs(): void {
  for (const dir of [...created]) removeTempDir(dir);
}

process.once('exit', removeTempDirs);
