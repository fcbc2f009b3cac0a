import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The real Sparkify sample (SLUICE_SPARKIFY_DIR, or ../shared/data/sparkify next to the repo), if present. */
export const REAL_DATA: string | null = (() => {
  for (const dir of [process.env.SLUICE_SPARKIFY_DIR, join(repoRoot, '..', 'shared', 'data', 'sparkify')]) {
    if (dir && existsSync(join(dir, 'log_data')) && existsSync(join(dir, 'song_data'))) return dir;
  }
  return null;
})();

/** Every file under `dir`, as paths relative to `dir` with '/' separators, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
