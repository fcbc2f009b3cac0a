/**
 * "Did you mean" hints for names a user mistyped: the one rule for the DAG
 * loader and the CLI (unknown DAG ids, connection names), so a typo is caught
 * the same way wherever it is made.
 */
import { distance } from 'fastest-levenshtein';

/**
 * The candidate closest to `name` (case-insensitive edit distance), if it is
 * close enough to be a plausible typo: at most 3 edits and under half its length.
 */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  return bestD <= Math.min(3, Math.max(1, Math.floor(Math.max(name.length, best.length) / 2))) ? best : undefined;
}

/**
 * `; did you mean 'x'?` or the empty string. With `tail`, the sentence that
 * follows: `; did you mean 'x'? Tail...` or `; tail...`.
 */
export function didYouMean(name: string, candidates: Iterable<string>, tail?: string): string {
  const n = nearest(name, candidates);
  const hint = n === undefined ? '' : `; did you mean '${n}'?`;
  if (!tail) return hint;
  return hint ? `${hint} ${tail[0]!.toUpperCase()}${tail.slice(1)}` : `; ${tail}`;
}
