/**
 * Durations as written in DAG files and config: `500ms`, `90s`, `5m`, `1h30m`,
 * `1h 30m`, `2d`, `1w`, or a bare number of seconds (like Airflow's timedelta
 * given in seconds).
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const ACCEPTED = 'use a number of seconds (90) or amounts with units ms, s, m, h, d, w, e.g. 500ms, 90s, 5m, 1h30m, 1h 30m, 2d';

/**
 * The longest duration accepted: 100 years (36525d). Anything longer is a
 * mistake or means "never" (write null for no timeout), and a retry that
 * far out would not fit in a date.
 */
export const MAX_DURATION_MS = 36_525 * 86_400_000;

/** Rejects NaN, infinite and over-long totals; returns ms rounded to whole milliseconds. */
function bounded(ms: number, s: string | number): number {
  const shown = typeof s === 'number' ? String(s) : `'${s}'`;
  if (Number.isNaN(ms)) throw new Error(`invalid duration ${shown}: ${ACCEPTED}`);
  if (ms > MAX_DURATION_MS) {
    throw new Error(
      `invalid duration ${shown}: longer than 36525d (100 years), the longest accepted; ` +
        'write a shorter one, or null where no limit is meant (execution_timeout: null, max_retry_delay: null)',
    );
  }
  return Math.round(ms);
}

/** One `<amount><unit>` part; parts may be separated by spaces. */
const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/y;

/** Parses a duration into milliseconds; throws an Error naming the accepted forms. */
export function parseDuration(s: string | number): number {
  if (typeof s === 'number') {
    if (!Number.isFinite(s) || s < 0) throw new Error(`invalid duration ${s}: ${ACCEPTED}`);
    return bounded(s * 1000, s);
  }
  const text = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return bounded(Number(text) * 1000, s);
  let total = 0;
  let at = 0;
  let parts = 0;
  while (at < text.length) {
    while (text[at] === ' ') at++;
    if (at >= text.length) break;
    PART.lastIndex = at;
    const m = PART.exec(text);
    if (!m) throw new Error(`invalid duration '${s}': ${ACCEPTED}`);
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = PART.lastIndex;
    parts++;
  }
  if (parts === 0) throw new Error(`invalid duration '${s}': ${ACCEPTED}`);
  return bounded(total, s);
}

/** A short human form: `12ms`, `4.2s`, `1m5s`, `1h30m`, `2d3h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  let rest = Math.round(ms / 1000);
  const out: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) out.push(`${n}${unit}`);
  }
  return out.join('');
}
