/**
 * The Sparkify operators against a real embedded warehouse (PGlite), each
 * run through the real runner and state store from a YAML DAG.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DagFileError } from '../../../engine/errors.js';
import { buildContext, render } from '../../../engine/template/index.js';
import { splitStatements } from '../../../operators/sql-support.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { closeRuns, count, exec, makeEnv, oneTask, PROJECT_ROOT, rows, runDag, writeLake, type Env } from './support.js';

const DAY = '2018-11-21T00:00:00Z';

/** A Sparkify-like event line (my own fixture). */
function event(i: number, over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    artist: `Band ${i}`,
    auth: 'Logged In',
    firstName: 'Ada',
    gender: 'F',
    itemInSession: i,
    lastName: 'Lovelace',
    length: 200.5 + i,
    level: 'free',
    location: 'London',
    method: 'PUT',
    page: 'NextSong',
    registration: 1540919166796.0,
    sessionId: 7,
    song: `Tune ${i}`,
    status: 200,
    ts: 1542800000796 + i * 1000,
    userAgent: 'Mozilla/5.0',
    userId: String(10 + i),
    ...over,
  });
}

describe('operators on PGlite', function () {
  this.timeout(120_000);
  let env: Env;

  before(async () => {
    env = makeEnv((await freshPgliteUrl()).url);
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  describe('Sql', () => {
    it('creates the Sparkify tables from sql/create_tables.sql and records what it ran', async () => {
      const r = await runDag(env, oneTask('Sql', 'sql: sql/create_tables.sql'), DAY);
      expect(r.state).to.equal('success');
      const out = r.outputs('task');
      expect(out.statements).to.equal(11);
      expect(out.row_counts).to.have.length(11);
      const tables = await rows<{ table_name: string }>(
        env,
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
      );
      expect(tables.map((t) => t.table_name)).to.include.members([
        'staging_events',
        'staging_songs',
        'songplays',
        'users',
        'songs',
        'artists',
        'time',
      ]);
      const cols = await rows<{ column_name: string }>(
        env,
        `SELECT column_name FROM information_schema.columns WHERE table_name = 'staging_events' ORDER BY ordinal_position`,
      );
      expect(cols.map((c) => c.column_name)).to.deep.equal([
        'artist',
        'auth',
        'firstname',
        'gender',
        'iteminsession',
        'lastname',
        'length',
        'level',
        'location',
        'method',
        'page',
        'registration',
        'sessionid',
        'song',
        'status',
        'ts',
        'useragent',
        'userid',
      ]);
      // a second run is a no-op (IF NOT EXISTS)
      expect((await runDag(env, oneTask('Sql', 'sql: sql/create_tables.sql'), DAY)).state).to.equal('success');
    });

    it('renders create_tables.sql per dialect: DISTSTYLE/SORTKEY only for redshift, indexes only for postgres', async () => {
      const text = fs.readFileSync(path.join(PROJECT_ROOT, 'sql/create_tables.sql'), 'utf8');
      const ctx = (dialect: string) =>
        buildContext({
          dagId: 'd',
          runId: 'r',
          logicalDate: new Date(DAY),
          dataIntervalStart: new Date(DAY),
          dataIntervalEnd: new Date(DAY),
          dagParams: {},
          conf: {},
          conn: {},
          dialect,
        });
      const rs = await render(text, ctx('redshift'), 'test');
      const pg = await render(text, ctx('postgres'), 'test');
      expect(rs).to.match(/songplays \([^;]*\)\s*DISTSTYLE EVEN\s*SORTKEY \(start_time\);/);
      for (const [table, key] of [
        ['users', 'user_id'],
        ['songs', 'song_id'],
        ['artists', 'artist_id'],
        ['time', 'start_time'],
      ]) {
        expect(rs).to.match(new RegExp(`TABLE IF NOT EXISTS ${table} \\([^;]*\\)\\s*DISTSTYLE ALL\\s*SORTKEY \\(${key}\\);`));
      }
      expect(rs).not.to.match(/CREATE INDEX/);
      expect(pg).not.to.match(/DISTSTYLE|SORTKEY/);
      expect(pg).to.match(/CREATE INDEX IF NOT EXISTS songplays_start_time_idx ON songplays \(start_time\)/);
      expect(splitStatements(rs)).to.have.length(7);
    });

    it('runs a script in one transaction: a failing statement undoes the earlier ones', async () => {
      const r = await runDag(
        env,
        oneTask(
          'Sql',
          'sql: "CREATE TABLE sql_tx (x int); INSERT INTO sql_tx VALUES (1); INSERT INTO no_such_table VALUES (1);"',
        ),
        DAY,
      );
      expect(r.state).to.equal('failed');
      expect(r.tries('task')[0]!.error).to.match(/no_such_table/);
      expect(await rows(env, `SELECT to_regclass('sql_tx') AS t`)).to.deep.equal([{ t: null }]);
    });

    it('with transaction: false each statement commits on its own; row counts are recorded', async () => {
      const r = await runDag(
        env,
        oneTask(
          'Sql',
          `sql: "CREATE TABLE sql_auto (x int); INSERT INTO sql_auto VALUES (1), (2), (3); -- a comment; with a semicolon\\nINSERT INTO no_such_table VALUES (1)"
          transaction: false`,
        ),
        DAY,
      );
      expect(r.state).to.equal('failed');
      expect(await count(env, 'sql_auto')).to.equal(3);
      const ok = await runDag(
        env,
        oneTask('Sql', `sql: "UPDATE sql_auto SET x = x + 1 WHERE x > 1; DELETE FROM sql_auto WHERE x = 4"`),
        DAY,
      );
      expect(ok.state).to.equal('success');
      expect(ok.outputs('task')).to.include({ statements: 2 });
      expect(ok.outputs('task').row_counts).to.deep.equal([2, 1]);
    });

    it('renders inline SQL with the run context (ds)', async () => {
      const r = await runDag(env, oneTask('Sql', `sql: "CREATE TABLE sql_ds AS SELECT DATE '{{ ds }}' AS d"`), DAY);
      expect(r.state).to.equal('success');
      const [row] = await rows<{ d: Date }>(env, 'SELECT d FROM sql_ds');
      expect(row!.d.toISOString()).to.equal('2018-11-21T00:00:00.000Z');
    });
  });

  describe('StageToRedshift', () => {
    const stage = (source: string, extra = '') =>
      oneTask(
        'StageToRedshift',
        `table: staging_events
        source: ${source}
        json: sql/log_json_path.json
        timeformat: epochmillisecs
        ${extra}`,
      );

    before(async () => {
      const r = await runDag(env, oneTask('Sql', 'sql: sql/create_tables.sql'), DAY);
      expect(r.state).to.equal('success');
      writeLake(env, 'log_data/2018/11/2018-11-21-events.json', [event(1), event(2), event(3, { userId: '' })].join('\n'));
      writeLake(env, 'log_data/2018/11/2018-11-22-events.json', [event(4), event(5)].join('\n'));
    });

    it('loads with a JSONPaths file and replaces the table on every run (templated source)', async () => {
      const dag = stage(`"log_data/{{ logical_date | date: '%Y/%m/%Y-%m-%d' }}-events.json"`);
      const r1 = await runDag(env, dag, DAY);
      expect(r1.state).to.equal('success');
      expect(r1.outputs('task')).to.include({ rows_loaded: 3, objects: 1, rejected: 0, rows_deleted: 0, mode: 'replace' });
      expect(r1.outputs('task').source).to.equal('log_data/2018/11/2018-11-21-events.json');
      expect(r1.outputs('task').bytes).to.be.greaterThan(100);
      const loaded = await rows(env, 'SELECT userid, firstname, iteminsession, ts, sessionid FROM staging_events ORDER BY ts');
      expect(loaded).to.deep.equal([
        { userid: '11', firstname: 'Ada', iteminsession: 1, ts: 1542800001796, sessionid: 7 },
        { userid: '12', firstname: 'Ada', iteminsession: 2, ts: 1542800002796, sessionid: 7 },
        { userid: '', firstname: 'Ada', iteminsession: 3, ts: 1542800003796, sessionid: 7 },
      ]);
      const r2 = await runDag(env, dag, '2018-11-22T00:00:00Z');
      expect(r2.outputs('task')).to.include({ rows_loaded: 2, rows_deleted: 3 });
      expect(await count(env, 'staging_events')).to.equal(2);
    });

    it('appends with mode: append, and loads every object under a prefix', async () => {
      await runDag(env, stage('log_data/2018/11/2018-11-21-events.json'), DAY);
      const r = await runDag(env, stage('log_data/2018/', 'mode: append'), DAY);
      expect(r.state).to.equal('success');
      expect(r.outputs('task')).to.include({ rows_loaded: 5, objects: 2, rows_deleted: 0 });
      expect(await count(env, 'staging_events')).to.equal(8);
    });

    it("maps keys to columns with json: 'auto'", async () => {
      writeLake(
        env,
        'song_data/A/B/C/TRX1.json',
        JSON.stringify({
          num_songs: 1,
          artist_id: 'AR1',
          song_id: 'SO1',
          title: 'T',
          duration: 1.5,
          year: 0,
          artist_name: 'N',
          artist_latitude: null,
          artist_longitude: null,
          artist_location: '',
        }),
      );
      writeLake(
        env,
        'song_data/A/B/D/TRX2.json',
        JSON.stringify({
          num_songs: 1,
          artist_id: 'AR2',
          song_id: 'SO2',
          title: 'U',
          duration: 2,
          year: 1999,
          artist_name: 'M',
          artist_latitude: 1.25,
          artist_longitude: -2.5,
          artist_location: 'X',
        }),
      );
      const r = await runDag(env, oneTask('StageToRedshift', 'table: staging_songs\nsource: song_data/\njson: auto'), DAY);
      expect(r.state).to.equal('success');
      expect(r.outputs('task')).to.include({ rows_loaded: 2, objects: 2 });
      expect(
        await rows(env, 'SELECT song_id, year, artist_latitude, artist_location FROM staging_songs ORDER BY song_id'),
      ).to.deep.equal([
        { song_id: 'SO1', year: 0, artist_latitude: null, artist_location: '' },
        { song_id: 'SO2', year: 1999, artist_latitude: 1.25, artist_location: 'X' },
      ]);
    });

    it('reads a JSONPaths file given as a URL inside the lake', async () => {
      writeLake(env, 'meta/paths.json', fs.readFileSync(path.join(PROJECT_ROOT, 'sql/log_json_path.json'), 'utf8'));
      const url = `${pathToFileURL(env.lake).href.replace(/\/+$/, '')}/meta/paths.json`;
      const r = await runDag(
        env,
        oneTask('StageToRedshift', `table: staging_events\nsource: log_data/2018/11/2018-11-22-events.json\njson: "${url}"`),
        DAY,
      );
      expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
      expect(r.outputs('task')).to.include({ rows_loaded: 2 });
      const outside = await runDag(
        env,
        oneTask('StageToRedshift', 'table: staging_events\nsource: log_data/\njson: "s3://elsewhere/paths.json"'),
        DAY,
      );
      expect(outside.tries('task')[0]!.error).to.match(/neither in the project nor under the lake/);
    });

    it('tolerates up to maxerror rejected lines and records each in the state DB', async () => {
      writeLake(
        env,
        'bad/two-bad.json',
        [event(1), '{"artist": "broken', event(2), event(3, { itemInSession: 'many' }), event(4)].join('\n'),
      );
      const r = await runDag(env, stage('bad/two-bad.json', 'maxerror: 2'), DAY);
      expect(r.state).to.equal('success');
      expect(r.outputs('task')).to.include({ rows_loaded: 3, rejected: 2 });
      const [tr] = r.tries('task');
      const rejections = await r.store.logs.rejections(tr!.tryId);
      expect(rejections).to.have.length(2);
      expect(rejections.map((x) => [x.table, x.line])).to.deep.equal([
        ['staging_events', 2],
        ['staging_events', 4],
      ]);
      expect(rejections[0]!.reason).to.match(/JSON/i);
      expect(rejections[0]!.object).to.match(/bad\/two-bad\.json$/);
      expect(rejections[1]!.column).to.equal('iteminsession');
      expect(rejections[1]!.value).to.equal('many');
      expect(await count(env, 'staging_events')).to.equal(3);
    });

    it('a bad JSON line with maxerror 0 fails the task and leaves the staging table unchanged', async () => {
      await runDag(env, stage('log_data/2018/11/2018-11-22-events.json'), DAY);
      const before = await rows(env, 'SELECT * FROM staging_events ORDER BY ts');
      expect(before).to.have.length(2);
      writeLake(env, 'bad/one-bad.json', [event(7), event(8), '{"ts": 1, "page": ', event(9)].join('\n'));
      const r = await runDag(env, stage('bad/one-bad.json'), DAY);
      expect(r.state).to.equal('failed');
      const [tr] = r.tries('task');
      expect(tr!.error).to.match(/MAXERROR 0/);
      expect(tr!.error).to.match(/one-bad\.json line 3/);
      expect(await r.store.logs.rejections(tr!.tryId)).to.have.length(1);
      expect(await rows(env, 'SELECT * FROM staging_events ORDER BY ts')).to.deep.equal(before);
    });

    it('fails clearly when nothing is under the source, or the JSONPaths file is missing', async () => {
      const none = await runDag(env, stage('log_data/1999/'), DAY);
      expect(none.state).to.equal('failed');
      expect(none.tries('task')[0]!.error).to.match(/no objects under/);
      const missing = await runDag(
        env,
        oneTask('StageToRedshift', 'table: staging_events\nsource: log_data/\njson: sql/nope.json'),
        DAY,
      );
      expect(missing.tries('task')[0]!.error).to.match(/JSONPaths file sql\/nope\.json not found/);
    });
  });

  describe('LoadFact', () => {
    const fact = (mode: string, sql = 'SELECT start_time, v FROM lf_src') =>
      oneTask('LoadFact', `table: lf_fact\nsql: "${sql}"\nmode: ${mode}`);

    beforeEach(async () => {
      await exec(
        env,
        `DROP TABLE IF EXISTS lf_fact; DROP TABLE IF EXISTS lf_src;
         CREATE TABLE lf_fact (start_time timestamp NOT NULL, v int);
         CREATE TABLE lf_src (start_time timestamp, v int);
         INSERT INTO lf_src VALUES ('2018-11-20 23:59:59.999', 1), ('2018-11-21 00:00:00', 2), ('2018-11-21 12:00:00', 3),
                                   ('2018-11-21 23:59:59.999', 4), ('2018-11-22 00:00:00', 5);
         INSERT INTO lf_fact VALUES ('2018-11-20 10:00:00', 100), ('2018-11-21 08:00:00', 200);`,
      );
    });

    it('replace-interval: rerunning a date replaces its rows, never duplicates, and leaves other days alone', async () => {
      const r1 = await runDag(env, fact('replace-interval'), DAY);
      expect(r1.state).to.equal('success');
      expect(r1.outputs('task')).to.include({ rows_deleted: 1, rows_inserted: 3, mode: 'replace-interval' });
      expect(r1.outputs('task').interval).to.deep.equal({ start: '2018-11-21T00:00:00.000Z', end: '2018-11-22T00:00:00.000Z' });
      const r2 = await runDag(env, fact('replace-interval'), DAY);
      expect(r2.outputs('task')).to.include({ rows_deleted: 3, rows_inserted: 3 });
      expect((await rows<{ v: number }>(env, 'SELECT v FROM lf_fact ORDER BY start_time')).map((r) => r.v)).to.deep.equal([
        100, 2, 3, 4,
      ]);
    });

    it('replace-interval uses interval_column, and the SELECT may use the run context', async () => {
      await exec(env, `DROP TABLE lf_fact; CREATE TABLE lf_fact (v int, at timestamp)`);
      const dag = oneTask(
        'LoadFact',
        `table: lf_fact
        sql: "SELECT v, start_time AS at FROM lf_src WHERE start_time >= TIMESTAMP '{{ data_interval_start | date: '%Y-%m-%d' }}'"
        interval_column: at`,
      );
      const r = await runDag(env, dag, '2018-11-22T00:00:00Z');
      expect(r.state).to.equal('success');
      expect(await rows(env, 'SELECT v FROM lf_fact')).to.deep.equal([{ v: 5 }]);
    });

    it('append inserts every row of the SELECT each time', async () => {
      await runDag(env, fact('append'), DAY);
      const r = await runDag(env, fact('append'), DAY);
      expect(r.outputs('task')).to.include({ rows_deleted: 0, rows_inserted: 5, mode: 'append' });
      expect(await count(env, 'lf_fact')).to.equal(12);
    });

    it('fails without changes when the SELECT lacks the interval column', async () => {
      const r = await runDag(env, fact('replace-interval', 'SELECT v FROM lf_src'), DAY);
      expect(r.state).to.equal('failed');
      expect(r.tries('task')[0]!.error).to.match(/no column start_time \(interval_column\); it returns: v/);
      expect(await count(env, 'lf_fact')).to.equal(2);
    });

    it('rolls back the delete when the insert fails', async () => {
      await exec(env, `INSERT INTO lf_src VALUES ('2018-11-21 13:00:00', NULL); ALTER TABLE lf_fact ALTER COLUMN v SET NOT NULL`);
      const r = await runDag(env, fact('replace-interval'), DAY);
      expect(r.state).to.equal('failed');
      expect(await rows(env, 'SELECT v FROM lf_fact ORDER BY v')).to.deep.equal([{ v: 100 }, { v: 200 }]);
    });
  });

  describe('LoadDimension', () => {
    const dim = (mode: string, key = '') =>
      oneTask('LoadDimension', `table: ld_users\nsql: "SELECT user_id, level FROM ld_src"\nmode: ${mode}\n${key}`);

    beforeEach(async () => {
      await exec(
        env,
        `DROP TABLE IF EXISTS ld_users; DROP TABLE IF EXISTS ld_src;
         CREATE TABLE ld_users (user_id varchar(8) PRIMARY KEY, level varchar(8));
         CREATE TABLE ld_src (user_id varchar(8), level varchar(8));
         INSERT INTO ld_users VALUES ('1', 'free'), ('2', 'free');
         INSERT INTO ld_src VALUES ('1', 'paid'), ('3', 'free');`,
      );
    });

    const table = () => rows(env, 'SELECT user_id, level FROM ld_users ORDER BY user_id');

    it("upsert updates a user's level and adds new users, keeping the rest", async () => {
      const r = await runDag(env, dim('upsert', 'key: [user_id]'), DAY);
      expect(r.state).to.equal('success');
      expect(r.outputs('task')).to.include({ rows_deleted: 1, rows_inserted: 2, rows_replaced: 1, rows_new: 1 });
      expect(await table()).to.deep.equal([
        { user_id: '1', level: 'paid' },
        { user_id: '2', level: 'free' },
        { user_id: '3', level: 'free' },
      ]);
      // idempotent
      await runDag(env, dim('upsert', 'key: [user_id]'), DAY);
      expect(await count(env, 'ld_users')).to.equal(3);
      // no temporary table is left behind
      expect(await rows(env, `SELECT relname FROM pg_class WHERE relname LIKE 'sluice_upsert%'`)).to.deep.equal([]);
    });

    it('truncate-insert replaces every row (with DELETE, in one transaction)', async () => {
      const r = await runDag(env, dim('truncate-insert'), DAY);
      expect(r.outputs('task')).to.include({ rows_deleted: 2, rows_inserted: 2 });
      expect(await table()).to.deep.equal([
        { user_id: '1', level: 'paid' },
        { user_id: '3', level: 'free' },
      ]);
    });

    it('append inserts; a key violation rolls the load back', async () => {
      await exec(env, `DELETE FROM ld_src WHERE user_id = '1'`);
      expect((await runDag(env, dim('append'), DAY)).outputs('task')).to.include({ rows_inserted: 1 });
      expect(await count(env, 'ld_users')).to.equal(3);
      const again = await runDag(env, dim('append'), DAY);
      expect(again.state).to.equal('failed');
      expect(await count(env, 'ld_users')).to.equal(3);
    });

    it('upsert fails when the SELECT returns a key twice', async () => {
      await exec(env, `INSERT INTO ld_src VALUES ('3', 'paid')`);
      const r = await runDag(env, dim('upsert', 'key: [user_id]'), DAY);
      expect(r.state).to.equal('failed');
      expect(r.tries('task')[0]!.error).to.match(/returned 1 key value\(s\) of \(user_id\) more than once/);
      expect(await count(env, 'ld_users')).to.equal(2);
    });

    it('upsert without key is refused when the DAG file is loaded', async () => {
      const err = await runDag(env, dim('upsert'), DAY).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(DagFileError);
      expect((err as Error).message).to.match(/tasks\.task\.key: mode upsert needs key/);
    });
  });
});
