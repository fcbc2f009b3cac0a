/** The state store contract (state-suite.ts) against every implementation. */
import fs from 'node:fs';
import path from 'node:path';
import { PostgresStateStore } from '../../../engine/state/postgres/index.js';
import { SqliteStateStore } from '../../../engine/state/sqlite/index.js';
import { usePostgres } from '../../helpers/postgres.js';
import { tmpDir } from '../../helpers/engine.js';
import { describeStateStore } from './state-suite.js';

describeStateStore('SQLite', async () => {
  const dir = tmpDir('sluice-state-');
  const file = path.join(dir, 'state.db');
  const store = new SqliteStateStore(file);
  return {
    store,
    another: async () => new SqliteStateStore(file),
    async cleanup() {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe('on a PostgreSQL server', () => {
  const server = usePostgres();
  let n = 0;
  describeStateStore('PostgreSQL', async () => {
    // a schema of its own per test: the same server, a fresh history
    const url = `${server.url}${server.url.includes('?') ? '&' : '?'}schema=state_t${++n}`;
    const store = await PostgresStateStore.open(url);
    return {
      store,
      another: () => PostgresStateStore.open(url),
      async cleanup() {
        await store.close();
      },
    };
  });
});
