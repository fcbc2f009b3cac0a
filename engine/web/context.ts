/**
 * What the web server works with: the state interfaces, the run lifecycle
 * API, the DAG folder, and a way to execute a run it has claimed. The
 * webserver verb builds it from the CLI's app; tests may build their own.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dag } from '../interfaces.js';
import type { DagFileError } from '../errors.js';
import type { StateStore } from '../state/index.js';
import type { Runs } from '../run/runs.js';
import { WebError } from './http.js';

export interface WebContext {
  store: StateStore;
  runs: Runs;
  dagsDir: string;
  /** Every DAG file of the folder, read now: the good DAGs and the broken files' errors. */
  loadDags(): { dags: Dag[]; errors: DagFileError[] };
  /**
   * Executes, in the background, a run this process has claimed; the
   * promise (when returned) settles when the run ends (a backfill runs its
   * runs one after the other). Absent (`sluice scheduler --web`): the
   * server only queues runs and clears tasks, and the scheduler it lives in
   * executes them.
   */
  execute?(dag: Dag, runId: string): Promise<unknown> | void;
}

/**
 * `load` (reading every DAG file of `dir`) again only when a file of the
 * folder was added, removed or rewritten (name, size, mtime): a page served
 * many times a second does not parse 200 DAG files each time.
 */
export function cachedDagLoader(
  dir: string,
  load: () => { dags: Dag[]; errors: DagFileError[] },
): () => { dags: Dag[]; errors: DagFileError[] } {
  let key = '';
  let last: { dags: Dag[]; errors: DagFileError[] } | null = null;
  return () => {
    let now: string;
    try {
      now = fs
        .readdirSync(dir)
        .filter((f) => /\.ya?ml$/i.test(f))
        .sort()
        .map((f) => {
          const s = fs.statSync(path.join(dir, f));
          return `${f}:${s.size}:${s.mtimeMs}`;
        })
        .join('|');
    } catch {
      now = '';
    }
    if (!last || now !== key) {
      last = load();
      key = now;
    }
    return last;
  };
}

/** The DAG `dagId` of the folder, or a 404 that names the known ones. */
export function findDag(ctx: WebContext, dagId: string): Dag {
  const { dags, errors } = ctx.loadDags();
  const dag = dags.find((d) => d.id === dagId);
  if (dag) return dag;
  throw new WebError(
    404,
    `no DAG '${dagId}' in ${ctx.dagsDir}. Known DAGs: ${dags.map((d) => d.id).join(', ') || '(none)'}` +
      (errors.length ? `; ${errors.length} DAG file(s) have errors (see the DAG list)` : ''),
  );
}

/** The DAG files of the folder, by name (what /source may show: nothing outside the folder). */
export function dagFileNames(ctx: WebContext): string[] {
  try {
    return fs
      .readdirSync(ctx.dagsDir)
      .filter((f) => /\.ya?ml$/i.test(f))
      .sort();
  } catch {
    return [];
  }
}

/** The path of DAG file `name`, which must be one of the folder's files. */
export function dagFilePath(ctx: WebContext, name: string): string {
  if (!dagFileNames(ctx).includes(name)) throw new WebError(404, `no DAG file '${name}' in ${ctx.dagsDir}`);
  return path.join(ctx.dagsDir, name);
}
