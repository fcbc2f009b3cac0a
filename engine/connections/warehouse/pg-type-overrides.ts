/**
 * The result parsers of result-types.ts as a `types` object for pg's
 * Pool/Client config (PostgreSQL and Redshift), falling back to pg's own.
 * Apart from result-types.ts so that PGlite's worker does not load pg.
 */
import pg from 'pg';
import { pgliteParsers } from './result-types.js';

/** A `types` object for pg's Pool/Client config with the same overrides. */
export const pgTypeOverrides = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if ((format ?? 'text') === 'text') {
      const own = pgliteParsers[oid];
      if (own) return own;
    }
    return (pg.types.getTypeParser as (oid: number, format?: string) => (value: string) => unknown)(oid, format ?? 'text');
  },
};
