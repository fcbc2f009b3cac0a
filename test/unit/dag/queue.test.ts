/** A task's `queue` (sluice worker --queue): its own, else default_args', else `default`. */
import { expect } from 'chai';
import { loadDagSource } from '../../../engine/dag/index.js';
import { at, problemOf, testRegistry, yaml } from './helpers.js';

describe('DAG files: task queues', () => {
  it('takes the task queue from the task, else default_args, else default', () => {
    const src = yaml('dag: q', 'tasks:', '  a: { operator: Empty }', '  b: { operator: Empty, queue: heavy }');
    const dag = loadDagSource(src, 'q.yaml', testRegistry());
    expect(dag.tasks.get('a')!.queue).to.equal('default');
    expect(dag.tasks.get('b')!.queue).to.equal('heavy');
    const inherited = loadDagSource(
      yaml('dag: q', 'default_args: { queue: etl }', 'tasks:', '  a: { operator: Empty }', '  b: { operator: Empty, queue: io }'),
      'q.yaml',
      testRegistry(),
    );
    expect([...inherited.tasks.values()].map((t) => t.queue)).to.deep.equal(['etl', 'io']);
  });

  it('refuses a queue that is not a plain name, saying where', () => {
    const p = problemOf(yaml('dag: q', 'tasks:', '  a: { operator: Empty, queue: "two words" }'));
    expect(p.message).to.match(/must be a queue name: use only letters, digits/);
    expect(at(p)).to.equal('3:32'); // the value's line and column
  });
});
