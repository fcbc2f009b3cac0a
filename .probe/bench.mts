import { openObjectStore, openWarehouse } from '../engine/connections/index.js';
import { startPrivatePostgres, findPgBin, createDatabase } from '../test/helpers/postgres.js';
import { freshPgliteUrl } from '../test/helpers/pglite.js';
import { makeTempDir } from '../test/helpers/tmp.js';
import { eventLine, EVENT_PATHS, STAGING_EVENTS_DDL } from '../test/integration/connections/load-suite.js';
const N = 200_000;
const store = await openObjectStore(makeTempDir('bench-lake'), { home: '/' });
for (let f = 0; f < 10; f++) {
  await store.write(`log/${f}.json`, Array.from({ length: N / 10 }, (_, i) => eventLine(f * N + i)).join('\n'));
}
const spec = { table: 'staging_events', store, source: 'log/', mapping: { kind: 'jsonpaths' as const, paths: EVENT_PATHS, file: 'jp' }, timeformat: 'epochmillisecs' as const, maxerror: 0 };
const srv = await startPrivatePostgres(findPgBin()!);
for (const [name, url] of [['pglite', (await freshPgliteUrl()).url]]) {
  const wh = await openWarehouse(url, { home: '/' });
  await wh.query(STAGING_EVENTS_DDL);
  const t0 = performance.now();
  const r = await wh.loadJson(spec);
  const ms = performance.now() - t0;
  console.log(name, r.rows, 'rows', Math.round(ms), 'ms', Math.round(r.rows / ms * 1000), 'rows/s', 'rss', Math.round(process.memoryUsage().rss / 1e6), 'MB', 'MB in', Math.round(r.bytes/1e6));
  await wh.close();
}
srv.stop();
