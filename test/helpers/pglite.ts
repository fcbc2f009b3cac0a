/**
 * Fresh PGlite databases for tests. A new data dir costs about 4 s (initdb),
 * so one template is made per machine (under the OS temp dir, keyed by the
 * PGlite version) and each test gets a copy of it (well under a second).
 */
import { PGlite } from '@electric-sql/pglite';
import { cpSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { makeTempDir } from './tmp.js';

const require = createRequire(import.meta.url);

function pgliteVersion(): string {
  const pkgDir = path.dirname(path.dirname(require.resolve('@electric-sql/pglite')));
  return (JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version;
}

let template: Promise<string> | undefined;

/** The template data dir, created once (atomically, so parallel runs do not clash). */
export function pgliteTemplate(): Promise<string> {
  template ??= (async () => {
    const dir = path.join(os.tmpdir(), `sluice-pglite-template-${pgliteVersion()}`);
    if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
    const building = `${dir}.${process.pid}.tmp`;
    rmSync(building, { recursive: true, force: true });
    const db = new PGlite(building);
    await db.waitReady;
    await db.close();
    try {
      renameSync(building, dir);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another process won the race
    }
    return dir;
  })();
  return template;
}

/** A copy of the template in a new temp folder; returns its `pglite:///...` URL and folder. */
export async function freshPgliteUrl(): Promise<{ url: string; dataDir: string }> {
  const src = await pgliteTemplate();
  const dataDir = path.join(makeTempDir('sluice-pglite'), 'db');
  cpSync(src, dataDir, { recursive: true });
  return { url: `pglite://${dataDir}`, dataDir };
}
