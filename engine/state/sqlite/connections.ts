/** Connections recorded at run time, in SQLite (table connections). */
import type { ConnectionStore, StoredConnection } from '../index.js';
import { iso, toConnection, type ConnectionRow, type Statements } from './rows.js';

export class SqliteConnectionStore implements ConnectionStore {
  constructor(private readonly q: Statements) {}

  async set(name: string, url: string, o: { extra?: Record<string, unknown>; by?: string | null; now: Date }): Promise<void> {
    this.q
      .get(
        `INSERT INTO connections (name, url, extra, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, extra = excluded.extra,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      )
      .run(name, url, JSON.stringify(o.extra ?? {}), iso(o.now), o.by ?? null);
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    const r = this.q.get('SELECT * FROM connections WHERE name = ?').get(name) as ConnectionRow | undefined;
    return r && toConnection(r);
  }

  async list(): Promise<StoredConnection[]> {
    return (this.q.get('SELECT * FROM connections ORDER BY name').all() as ConnectionRow[]).map(toConnection);
  }

  async delete(name: string): Promise<boolean> {
    return this.q.get('DELETE FROM connections WHERE name = ?').run(name).changes > 0;
  }
}
