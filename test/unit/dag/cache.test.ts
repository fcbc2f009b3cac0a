import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { findProjectFile } from '../../../engine/config.js';
import { DagCache, dagCacheOf, useDagCache } from '../../../engine/dag/cache.js';
import { loadDagFile, loadDagsDir } from '../../../engine/dag/index.js';
import { DagFileError } from '../../../engine/errors.js';
import { OperatorRegistry } from '../../../engine/registry.js';
import { defaultRegistry } from '../../../operators/index.js';
import { Empty } from '../../../operators/empty.js';
import { tmpDir } from '../../helpers/engine.js';

const GOOD = [
  'dag: good',
  'schedule: "@daily"',
  'start_date: 2024-01-01',
  'params: { table: events }',
  'tasks:',
  '  first: { operator: Empty }',
  '  count: { operator: Sql, sql: sql/count.sql, upstream: first }',
  '',
].join('\n');

/** What loading `file` gives with `registry`: the Dag, or the DagFileError's file and message. */
function outcome(file: string, registry = defaultRegistry()): unknown {
  try {
    return loadDagFile(file, registry);
  } catch (err) {
    if (err instanceof DagFileError) return { file: err.file, message: err.message, problems: err.problems };
    throw err;
  }
}

/** A registry with a cache in `dir` that trusts files however recently they changed (racyMs 0). */
function cached(dir: string, codeId = 'build-1') {
  const registry = defaultRegistry();
  const cache = new DagCache(path.join(dir, 'cache'), codeId, registry, findProjectFile, { racyMs: 0 });
  useDagCache(registry, cache);
  return { registry, cache };
}

/** Rewrites a file and moves its modification time, as an editor saving it later would. */
function rewrite(file: string, text: string, secondsLater: number): void {
  fs.writeFileSync(file, text);
  const t = new Date(Date.now() + secondsLater * 1000);
  fs.utimesSync(file, t, t);
}

describe('the cache of checked DAG files', () => {
  let dir: string;
  let dags: string;
  beforeEach(() => {
    dir = tmpDir('sluice-dag-cache-');
    dags = path.join(dir, 'dags');
    fs.mkdirSync(dags);
    fs.mkdirSync(path.join(dir, 'sql'));
    fs.writeFileSync(path.join(dir, 'sql', 'count.sql'), 'SELECT count(*) FROM {{ params.table | sql_ident }}');
    fs.writeFileSync(path.join(dags, 'good.yaml'), GOOD);
    fs.writeFileSync(
      path.join(dags, 'bad.yaml'),
      'dag: bad\ntasks:\n  a: { operator: Empyt }\n  b: { operator: Empty, upstream: c }\n',
    );
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives what a fresh load gives, Dag or every problem, and serves it from the entry next time', () => {
    const { registry, cache } = cached(dir);
    for (const name of ['good.yaml', 'bad.yaml']) {
      const file = path.join(dags, name);
      const fresh = outcome(file);
      expect(outcome(file, registry), `${name}, first load`).to.deep.equal(fresh);
      expect(cache.get(file, file), `${name} has an entry`).to.not.equal(undefined);
      expect(outcome(file, registry), `${name}, from the cache`).to.deep.equal(fresh);
    }
    const bad = cache.get(path.join(dags, 'bad.yaml'), path.join(dags, 'bad.yaml')) as { problems: unknown[] };
    expect(bad.problems).to.have.length(2);
    // the folder load (duplicate ids, order, errors) is the same through the cache
    const plain = loadDagsDir(dags, defaultRegistry());
    const viaCache = loadDagsDir(dags, registry);
    expect(viaCache.dags).to.deep.equal(plain.dags);
    expect(viaCache.errors.map((e) => e.message)).to.deep.equal(plain.errors.map((e) => e.message));
    expect(fs.readdirSync(path.join(dir, 'cache')).filter((f) => f.endsWith('.tmp'))).to.deep.equal([]);
  });

  it('reloads a DAG file that changed, even to the same size', () => {
    const { registry } = cached(dir);
    const file = path.join(dags, 'good.yaml');
    expect((outcome(file, registry) as { id: string }).id).to.equal('good');
    rewrite(file, GOOD.replace('dag: good', 'dag: gold'), 5);
    expect((outcome(file, registry) as { id: string }).id).to.equal('gold');
  });

  it('rechecks the templates when a .sql file they name changes, or a file that now shadows it appears', () => {
    const { registry } = cached(dir);
    const file = path.join(dags, 'good.yaml');
    expect(outcome(file, registry)).to.have.property('id', 'good');
    rewrite(path.join(dir, 'sql', 'count.sql'), 'SELECT count(*) FROM {{ params.tabel | sql_ident }}', 5);
    const changed = outcome(file, registry) as { message: string };
    expect(changed.message).to.match(/unknown param 'tabel'/);
    expect(changed).to.deep.equal(outcome(file));

    // a .sql file named by a DAG but found in the package: one added to the project folder would be used instead
    const other = path.join(dags, 'other.yaml');
    fs.writeFileSync(other, GOOD.replace('dag: good', 'dag: other').replace('sql/count.sql', 'sql/create_tables.sql'));
    fs.rmSync(path.join(dir, 'sql', 'count.sql'));
    expect(outcome(other, registry)).to.have.property('id', 'other');
    fs.writeFileSync(path.join(dir, 'sql', 'create_tables.sql'), 'SELECT {{ nope }}');
    expect((outcome(other, registry) as { message: string }).message).to.match(/unknown template variable 'nope'/);
  });

  it('never uses an entry of other code, another operator set, or a damaged one', () => {
    const file = path.join(dags, 'good.yaml');
    const first = cached(dir, 'build-1');
    outcome(file, first.registry);
    expect(first.cache.get(file, file)).to.not.equal(undefined);
    expect(cached(dir, 'build-2').cache.get(file, file), 'other build').to.equal(undefined);
    const fewer = new OperatorRegistry([Empty]);
    expect(new DagCache(path.join(dir, 'cache'), 'build-1', fewer, findProjectFile, { racyMs: 0 }).get(file, file)).to.equal(
      undefined,
    );
    expect(first.cache.get(file, 'dags/good.yaml'), 'the file under another name').to.equal(undefined);
    for (const f of fs.readdirSync(path.join(dir, 'cache'))) fs.writeFileSync(path.join(dir, 'cache', f), 'damaged');
    expect(first.cache.get(file, file), 'damaged').to.equal(undefined);
    expect(outcome(file, first.registry)).to.deep.equal(outcome(file));
  });

  it('does not cache a file changed in the last seconds (its time stamp could repeat), nor what does not round-trip', () => {
    const registry = defaultRegistry();
    const cache = new DagCache(path.join(dir, 'cache'), 'build-1', registry, findProjectFile);
    useDagCache(registry, cache);
    expect(dagCacheOf(registry)).to.equal(cache);
    const file = path.join(dags, 'good.yaml');
    outcome(file, registry);
    expect(cache.get(file, file)).to.equal(undefined);

    const relaxed = cached(dir).cache;
    const stamp = { size: 1, mtimeNs: '1', ctimeNs: '1', ino: '1' };
    relaxed.put(file, file, stamp, [], { problems: [{ pos: { file, line: 1, col: 1 }, path: '', message: 'x' }] });
    expect(fs.readdirSync(path.join(dir, 'cache'))).to.have.length(1);
    fs.rmSync(path.join(dir, 'cache'), { recursive: true });
    const dag = loadDagFile(file, defaultRegistry());
    dag.tasks.get('first')!.params.hook = () => 1; // a function: cannot be stored
    relaxed.put(file, file, stamp, [], { dag, idPos: undefined });
    expect(fs.existsSync(path.join(dir, 'cache'))).to.equal(false);
  });
});
