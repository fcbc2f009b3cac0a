/**
 * Data quality results as the engine stores and shows them, read from what
 * a try recorded: its `outputs.checks` (DataQuality's shape, or an older or
 * plugin operator's: the parsers are tolerant) and its load row counts
 * (`table` with `rows_loaded`, `rows_inserted` or `rows`).
 *
 * The run loop stores both after every try (state QualityStore); the CLI's
 * summaries and reports read the same normalisation, so a check means the
 * same thing wherever it is shown.
 */
import type { CheckStatus, NewCheckResult } from './state/index.js';

/** A check as summaries show it (pass or not, with its severity). */
export interface CheckResult {
  name: string;
  type?: string;
  severity: 'error' | 'warn';
  passed: boolean;
  observed: unknown;
  expected: unknown;
  message?: string;
}

type Raw = Record<string, unknown>;

function rawChecks(v: unknown): Raw[] {
  if (!Array.isArray(v)) return [];
  return v.filter((c): c is Raw => Boolean(c) && typeof c === 'object' && !Array.isArray(c));
}

function passedOf(c: Raw): boolean {
  return c.passed === true || c.result === 'pass' || c.result === 'passed' || c.status === 'pass';
}

/** Check results from a try's outputs.checks (tolerant of older or plugin output shapes). */
export function asChecks(v: unknown): CheckResult[] {
  return rawChecks(v).map((c) => ({
    name: String(c.name ?? c.type ?? 'check'),
    type: c.type === undefined ? undefined : String(c.type),
    severity: c.severity === 'warn' ? 'warn' : 'error',
    passed: passedOf(c),
    observed: c.observed,
    expected: c.expected ?? c.expectation,
    message: c.message === undefined ? undefined : String(c.message),
  }));
}

const STATUSES: readonly CheckStatus[] = ['pass', 'warn', 'fail', 'error'];

/**
 * pass; error when the check could not run (it recorded an `error`); else a
 * failure counts as warn or fail by its severity.
 */
export function checkStatus(c: { passed: boolean; severity: 'error' | 'warn'; error?: unknown }): CheckStatus {
  if (typeof c.error === 'string' && c.error !== '') return 'error';
  if (c.passed) return 'pass';
  return c.severity === 'warn' ? 'warn' : 'fail';
}

/** The offending rows a check kept: `sample`, or DataQuality's older `details.sample` / `details.unexpected_values`. */
function sampleOf(c: Raw): Raw[] | null {
  const details = c.details && typeof c.details === 'object' ? (c.details as Raw) : {};
  for (const s of [c.sample, details.sample, details.unexpected_values]) {
    const rows = rawChecks(s);
    if (rows.length > 0) return rows.slice(0, 20);
  }
  return null;
}

function text(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function numberOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** outputs.checks as results to store (status from passed, severity and error). */
export function checkResultsOf(outputs: Raw): NewCheckResult[] {
  return rawChecks(outputs.checks).map((c) => {
    const severity = c.severity === 'warn' ? 'warn' : 'error';
    const given = STATUSES.find((s) => s === c.status);
    const status = given ?? checkStatus({ passed: passedOf(c), severity, error: c.error });
    return {
      name: String(c.name ?? c.type ?? 'check'),
      type: String(c.type ?? 'custom'),
      table: text(c.table),
      severity,
      status,
      observed: c.observed ?? null,
      expected: c.expected ?? c.expectation ?? null,
      sample: sampleOf(c),
      message: text(c.error) ?? text(c.message),
      durationMs: numberOrNull(c.duration_ms) ?? numberOrNull(c.durationMs),
    };
  });
}

/**
 * The row counts a load recorded: `table` with `rows_loaded` (StageToRedshift),
 * `rows_inserted` (LoadFact, LoadDimension) or `rows`. A load that rolled
 * back (`rolled_back: true`) loaded nothing and is not a point of the series.
 */
export function rowCountsOf(outputs: Raw): { table: string; rows: number }[] {
  const table = text(outputs.table);
  if (table === null || outputs.rolled_back === true) return [];
  for (const key of ['rows_loaded', 'rows_inserted', 'rows']) {
    const n = outputs[key];
    if (typeof n === 'number' && Number.isInteger(n) && n >= 0) return [{ table, rows: n }];
  }
  return [];
}
