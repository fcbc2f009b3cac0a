import { expect } from 'chai';
import { loadDagSource, renderDag } from '../../../engine/dag/index.js';
import { testRegistry, yaml } from './helpers.js';

describe('renderDag', () => {
  const dag = loadDagSource(
    yaml(
      'dag: demo',
      'description: a demo',
      'schedule: "@daily"',
      'start_date: 2018-11-01',
      'tags: [x]',
      'tasks:',
      '  start: { operator: Empty }',
      '  load: { operator: Load, upstream: start, table: t, count: 1, retries: 2, retry_delay: 90s, execution_timeout: 1h }',
      '  end: { operator: Empty, upstream: [load, start], trigger_rule: all_done }',
    ),
    'dags/demo.yaml',
    testRegistry(),
  );

  it('text: settings, then one row per task in run order', () => {
    expect(renderDag(dag, 'text')).to.equal(
      [
        'DAG demo - a demo',
        '  schedule: @daily (UTC)  start: 2018-11-01T00:00:00.000Z  catchup: false  max_active_runs: 16  max_active_tasks: 16',
        '  tags: x',
        '  file: dags/demo.yaml',
        '',
        'tasks (3, in run order):',
        '  start  Empty  (root)          all_success  retries 0',
        '  load   Load   <- start        all_success  retries 2 every 1m30s  timeout 1h',
        '  end    Empty  <- load, start  all_done     retries 0',
        '',
      ].join('\n'),
    );
  });

  it('mermaid: a flowchart with one edge per upstream link', () => {
    expect(renderDag(dag, 'mermaid')).to.equal(
      [
        'flowchart LR',
        '  n0["start<br/><small>Empty</small>"]',
        '  n1["load<br/><small>Load</small>"]',
        '  n2["end<br/><small>Empty</small><br/><i>all_done</i>"]',
        '  n0 --> n1',
        '  n1 --> n2',
        '  n0 --> n2',
        '',
      ].join('\n'),
    );
  });

  it('dot: a digraph', () => {
    const dot = renderDag(dag, 'dot');
    expect(dot.startsWith('digraph "demo" {\n  rankdir=LR;')).to.equal(true);
    expect(dot).to.include('"load" [label="load\\nLoad"];');
    expect(dot).to.include('"end" [label="end\\nEmpty\\n[all_done]"];');
    expect(dot.match(/->/g)).to.have.length(3);
    expect(dot).to.include('"start" -> "end";');
    expect(dot.trimEnd().endsWith('}')).to.equal(true);
  });

  it('text for a manual-only DAG', () => {
    const manual = loadDagSource(yaml('dag: m', 'tasks: { a: { operator: Empty } }'), 'm.yaml', testRegistry());
    expect(renderDag(manual, 'text')).to.match(/schedule: manual only {2}start: -/);
  });

  it('rejects an unknown format', () => {
    expect(() => renderDag(dag, 'svg' as never)).to.throw(/use text, mermaid or dot/);
  });
});
