/** The pool behind the PostgreSQL state store, and transactions over it. */
import type pg from 'pg';
import type { Q } from './rows.js';

/**
 * A statement as pg sends it: a named one is parsed and planned once per
 * connection, then only executed (the statements every try runs: claiming,
 * starting and ending it, its log lines).
 */
const query = (text: string, values: unknown[] | undefined, name: string | undefined): pg.QueryConfig =>
  name ? { name, text, values } : { text, values };

export class Db {
  constructor(readonly pool: pg.Pool) {}

  /** One statement on any pooled connection. */
  readonly q: Q = async <R>(text: string, values?: unknown[], name?: string) =>
    (await this.pool.query(query(text, values, name))).rows as R[];

  /** fn's statements in one transaction on one connection; rolled back when fn throws. */
  async tx<T>(fn: (q: Q) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(
        async <R>(text: string, values?: unknown[], name?: string) => (await client.query(query(text, values, name))).rows as R[],
      );
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e)); // a broken connection is not reused
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
