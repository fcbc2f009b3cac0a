/**
 * One set of result value parsers for both local warehouses, so PGlite and
 * PostgreSQL return the same JS types:
 *
 * | SQL type                    | JS value                                                  |
 * |-----------------------------|-----------------------------------------------------------|
 * | smallint, integer, real, double | number                                                |
 * | bigint (int8, count(*))     | number when within ±2^53-1, else the decimal string       |
 * | numeric / decimal (sum())   | string (exact; call Number() when you want a float)       |
 * | boolean                     | boolean                                                   |
 * | timestamp (no time zone)    | Date, read as UTC (never the process's local zone)        |
 * | timestamptz                 | Date                                                      |
 * | date                        | Date at UTC midnight                                      |
 * | json, jsonb                 | parsed value                                              |
 * | text and everything else    | string (driver default)                                   |
 */
// pg's own parsers (the fallback of pgTypeOverrides) are in pg-type-overrides.ts: PGlite's worker, which
// imports this module, does not load pg.

export const OID = { INT8: 20, NUMERIC: 1700, TIMESTAMP: 1114, DATE: 1082 } as const;

/** int8 text -> number when exactly representable, else the string. */
export function parseInt8(text: string): number | string {
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : text;
}

/** `timestamp without time zone` text -> Date, as UTC. Infinity stays a string. */
export function parseTimestampUtc(text: string): Date | string {
  const m = /^(\d{4,})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)(\.\d+)?( BC)?$/.exec(text);
  if (!m) return text;
  const ms = m[7] ? Math.round(Number(m[7]) * 1000) : 0;
  let year = Number(m[1]);
  if (m[8]) year = 1 - year;
  const d = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]), ms));
  d.setUTCFullYear(year);
  return d;
}

/** `date` text -> Date at UTC midnight. Infinity stays a string. */
export function parseDateUtc(text: string): Date | string {
  const m = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/.exec(text);
  if (!m) return text;
  const d = new Date(Date.UTC(2000, Number(m[2]) - 1, Number(m[3])));
  d.setUTCFullYear(m[4] ? 1 - Number(m[1]) : Number(m[1]));
  return d;
}

/** Parsers PGlite takes as its `parsers` option. */
export const pgliteParsers: Record<number, (text: string) => unknown> = {
  [OID.INT8]: parseInt8,
  [OID.NUMERIC]: (t) => t,
  [OID.TIMESTAMP]: parseTimestampUtc,
  [OID.DATE]: parseDateUtc,
};
