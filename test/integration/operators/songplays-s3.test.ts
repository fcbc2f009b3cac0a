/**
 * The songplays DAG with the lake on an HTTP S3 server (s3rver): the real
 * 2018-11-21 event log and every song file are uploaded with the real
 * layout, and the same DAG file builds the same tables as from a folder.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { useS3rver } from '../../helpers/s3.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { expectedFor, readDayEvents, SPARKIFY_DIR, sparkifyAvailable } from './sparkify-expected.js';
import { closeRuns, count, PROJECT_ROOT, runDag, type Env } from './support.js';

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe('songplays DAG with the lake on S3 (s3rver)', function () {
  this.timeout(120_000);
  const s3 = useS3rver(['sparkify']);
  let env: Env;

  before(async function () {
    if (!sparkifyAvailable()) {
      console.warn(`    (Sparkify S3 test skipped: no real data at ${SPARKIFY_DIR})`);
      this.skip();
    }
    const files = [
      path.join(SPARKIFY_DIR, 'log_json_path.json'),
      path.join(SPARKIFY_DIR, 'log_data/2018/11/2018-11-21-events.json'),
      ...filesUnder(path.join(SPARKIFY_DIR, 'song_data')),
    ];
    for (const f of files) {
      const key = `udacity-dend/${path.relative(SPARKIFY_DIR, f).split(path.sep).join('/')}`;
      await s3.client.send(new PutObjectCommand({ Bucket: 'sparkify', Key: key, Body: fs.readFileSync(f) }));
    }
    const connections = createConnectionResolver(
      { warehouse: (await freshPgliteUrl()).url, lake: s3.storeUrl('sparkify', 'udacity-dend') },
      { home: makeTempDir('sluice-home') },
    );
    env = { connections, lake: '', warehouse: () => connections.warehouse(), close: () => connections.closeAll() };
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  it('stages from S3 (JSONPaths file in the bucket, as in the Udacity DAG) and builds the same tables', async () => {
    const exp = expectedFor(readDayEvents('2018-11-21'));
    const dag = fs
      .readFileSync(path.join(PROJECT_ROOT, 'dags/songplays.yaml'), 'utf8')
      .replace('json: sql/log_json_path.json', 'json: s3://sparkify/udacity-dend/log_json_path.json');
    expect(dag).to.include('s3://sparkify/udacity-dend/log_json_path.json');
    const r = await runDag(env, dag, '2018-11-21T00:00:00Z');
    expect(r.state).to.equal('success');
    expect(r.outputs('stage_events')).to.include({ rows_loaded: exp.events, objects: 1 });
    expect(r.outputs('stage_songs')).to.include({ rows_loaded: 71, objects: 71 });
    expect(await count(env, 'songplays')).to.equal(exp.songplays);
    expect(await count(env, 'songplays WHERE song_id IS NOT NULL')).to.equal(1);
    expect(await count(env, 'users')).to.equal(exp.users);
    expect(await count(env, 'songs')).to.equal(71);
    expect(await count(env, 'artists')).to.equal(69);
    expect(await count(env, '"time"')).to.equal(exp.times);
  });
});
