/** The state store contract (state-suite.ts) against every implementation. */
import fs from 'node:fs';
import path from 'node:path';
import { SqliteStateStore } from '../../../engine/state/sqlite/index.js';
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
