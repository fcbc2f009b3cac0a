import { PGlite, types } from '@electric-sql/pglite';
const t0 = Date.now();
const db = new PGlite('/tmp/probe/db1/sub');
await db.waitReady;
console.log('open', Date.now() - t0);
const r = await db.query(`select 9007199254740993::int8 a, 5::int8 b, 1.50::numeric c, '2018-11-30 00:22:07.796'::timestamp d, '2018-11-30'::date e, 1.5::float8 f, '{"a":1}'::jsonb g, now() h`);
console.log(r.rows, r.fields);
const e = await db.exec(`create table t(a int, b text); insert into t values (1,'x'),(2,'y'); select * from t`);
console.log(e.map(x => [x.rows, x.rowCount, x.affectedRows, x.command]));
try { await db.query(`select * from nosuch where`); } catch (err: any) { console.log(Object.keys(err), err.message, err.position, err.code); }
try { await db.query(`select nosuchcol from t`); } catch (err: any) { console.log(err.message, err.position, err.code); }
const c = await db.query(`COPY t (a,b) FROM '/dev/blob' WITH (FORMAT csv)`, [], { blob: new Blob(['3,"z"\n4,\n']) });
console.log(c);
console.log((await db.query(`select * from t`)).rows);
await db.close();
