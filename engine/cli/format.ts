/**
 * Output helpers for the CLI: plain tables, durations. (Name suggestions: engine/dag/suggest.ts.)
 */
import { redactValue } from '../redact.js';

// eslint-disable-next-line no-control-regex -- matches ANSI colour escapes
const ANSI = /\x1b\[[0-9;]*m/g;

function width(s: string): number {
  return s.replace(ANSI, '').length;
}

/** A plain text table: a header row, a rule, then the rows; columns padded to fit. */
export function table(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = header.map((h, i) => Math.max(width(h), ...cells.map((r) => width(r[i] ?? ''))));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - width(c))))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** `2018-11-21T00:00:00Z` without milliseconds. */
export function isoSeconds(d: Date | string | null | undefined): string | null {
  if (!d) return null;
  return new Date(d).toISOString().replace('.000Z', 'Z');
}

/** Human duration: 850ms, 4.2s, 3m12s, 1h02m. */
export function humanMs(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined) return null;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function colourState(state: string | null, on: boolean): string {
  const s = state ?? 'none';
  if (!on) return s;
  const code: Record<string, number> = {
    success: 32,
    failed: 31,
    upstream_failed: 33,
    up_for_retry: 33,
    running: 36,
    queued: 90,
    scheduled: 90,
    skipped: 35,
  };
  return code[s] ? `\x1b[${code[s]}m${s}\x1b[0m` : s;
}

/** Prints JSON for scripts, with secrets redacted like every other output. */
export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(redactValue(value), null, 2) + '\n');
}
