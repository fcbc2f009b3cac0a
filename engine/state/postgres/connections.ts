/** Connections recorded at run time, in PostgreSQL (table connections). */
import type { ConnectionStore, StoredConnection } from '../index.js';
import type { Db } from './db.js';
import { json, toConnection } from './rows.js';

export class PostgresConnectionStore implements ConnectionStore {
  constructor(private readonly db: Db) {}

  async set(name: string, url: string, o: { extra?: Record<string, unknown>; by?: string | null; now: Date }): Promise<void> {
    await this.db.q(
      `INSERT INTO connections (name, url, extra, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (name) DO UPDATE SET url = excluded.url, extra = excluded.extra,
         updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [name, url, json(o.extra ?? {}), o.now, o.by ?? null],
    );
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    const [r] = await this.db.q<Parameters<typeof toConnection>[0]>('SELECT * FROM connections WHERE name = $1', [name]);
    return r && toConnection(r);
  }

  async list(): Promise<StoredConnection[]> {
    return (await this.db.q<Parameters<typeof toConnection>[0]>('SELECT * FROM connections ORDER BY name COLLATE "C"')).map(
      toConnection,
    );
  }

  async delete(name: string): Promise<boolean> {
    return (await this.db.q('DELETE FROM connections WHERE name = $1 RETURNING name', [name])).length > 0;
  }
}
