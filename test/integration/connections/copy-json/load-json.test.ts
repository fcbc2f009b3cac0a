/**
 * Warehouse.loadJson with Redshift COPY JSON semantics on every local
 * warehouse (PGlite, PostgreSQL) from every object store (folder, s3rver).
 */
import { openObjectStore, openWarehouse } from '../../../../engine/connections/index.js';
import { freshPgliteUrl } from '../../../helpers/pglite.js';
import { usePostgres } from '../../../helpers/postgres.js';
import { useS3rver } from '../../../helpers/s3.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { describeJsonLoads } from './load-suite.js';

const home = '/';
const pglite = async () => openWarehouse((await freshPgliteUrl()).url, { home });
const folder = async () => openObjectStore(makeTempDir('sluice-lake'), { home });

describeJsonLoads('pglite <- folder', pglite, folder);

describe('with a PostgreSQL server and s3rver', () => {
  const pg = usePostgres('load_json');
  const s3 = useS3rver(['lake1', 'lake2']);
  describeJsonLoads('postgres <- folder', async () => openWarehouse(await pg.newDatabase('folder'), { home }), folder);
  describeJsonLoads(
    'postgres <- s3',
    async () => openWarehouse(await pg.newDatabase('s3'), { home }),
    async () => openObjectStore(s3.storeUrl('lake1', 'sparkify/'), { home }),
  );
  describeJsonLoads('pglite <- s3', pglite, async () => openObjectStore(s3.storeUrl('lake2'), { home }));
});
