/** A task's `pool` and `pool_slots` (sluice pools): its own, else default_args'; none by default. */
import { expect } from 'chai';
import { loadDagSource } from '../../../engine/dag/index.js';
import { at, problemOf, problemsOf, testRegistry, yaml } from './helpers.js';

describe('DAG files: task pools', () => {
  it('takes pool and pool_slots from the task, else default_args; no pool by default, one slot by default', () => {
    const dag = loadDagSource(
      yaml(
        'dag: p',
        'default_args: { pool: warehouse }',
        'tasks:',
        '  a: { operator: Empty }',
        '  b: { operator: Empty, pool: api, pool_slots: 3 }',
      ),
      'p.yaml',
      testRegistry(),
    );
    expect([...dag.tasks.values()].map((t) => [t.pool, t.poolSlots])).to.deep.equal([
      ['warehouse', 1],
      ['api', 3],
    ]);
    const none = loadDagSource(yaml('dag: p', 'tasks:', '  a: { operator: Empty }'), 'p.yaml', testRegistry());
    expect(none.tasks.get('a')).to.not.have.any.keys('pool', 'poolSlots');
  });

  it('refuses pool_slots without a pool, a bad pool name and slots below 1, saying where', () => {
    const alone = problemOf(yaml('dag: p', 'tasks:', '  a: { operator: Empty, pool_slots: 2 }'));
    expect(alone.path).to.equal('tasks.a.pool_slots');
    expect(alone.message).to.equal(
      'pool_slots needs a pool: name the pool whose slots the tries hold (pool: NAME; see sluice pools list), or remove pool_slots',
    );
    expect(at(alone)).to.equal('3:37'); // the value's line and column
    const defaults = problemOf(yaml('dag: p', 'default_args: { pool_slots: 2 }', 'tasks:', '  a: { operator: Empty }'));
    expect(defaults.path).to.equal('default_args.pool_slots');
    const bad = problemsOf(yaml('dag: p', 'tasks:', '  a: { operator: Empty, pool: "two words", pool_slots: 0 }'));
    expect(bad.map((p) => p.path).sort()).to.deep.equal(['tasks.a.pool', 'tasks.a.pool_slots']);
    expect(bad.find((p) => p.path === 'tasks.a.pool')!.message).to.match(/must be a pool name: use only letters, digits/);
  });
});
