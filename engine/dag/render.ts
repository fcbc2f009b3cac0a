/** Renders a loaded DAG for `sluice dags show`: a text table, Mermaid or Graphviz DOT. */
import { formatDuration } from '../duration.js';
import type { Dag } from '../interfaces.js';

export type RenderFormat = 'text' | 'mermaid' | 'dot';

export function renderDag(dag: Dag, format: RenderFormat): string {
  switch (format) {
    case 'text':
      return renderText(dag);
    case 'mermaid':
      return renderMermaid(dag);
    case 'dot':
      return renderDot(dag);
    default:
      throw new Error(`unknown format '${String(format)}'; use text, mermaid or dot`);
  }
}

/** A header with the DAG settings, then one aligned row per task in run order. */
function renderText(dag: Dag): string {
  const lines = [`DAG ${dag.id}${dag.description ? ` - ${dag.description}` : ''}`];
  const schedule = dag.schedule ? `${dag.schedule} (${dag.timezone})` : 'manual only';
  const facts = [
    `schedule: ${schedule}`,
    `start: ${dag.startDate?.toISOString() ?? '-'}`,
    ...(dag.endDate ? [`end: ${dag.endDate.toISOString()}`] : []),
    `catchup: ${dag.catchup}`,
    `max_active_runs: ${dag.maxActiveRuns}`,
    `max_active_tasks: ${dag.maxActiveTasks}`,
  ];
  lines.push(`  ${facts.join('  ')}`);
  if (dag.tags.length) lines.push(`  tags: ${dag.tags.join(', ')}`);
  lines.push(`  file: ${dag.file}`, '', `tasks (${dag.tasks.size}, in run order):`);
  const rows = dag.order.map((id) => {
    const t = dag.tasks.get(id)!;
    const retries = t.retries
      ? `${t.retries} every ${formatDuration(t.retryDelayMs)}${t.retryExponentialBackoff ? ' (backoff)' : ''}`
      : '0';
    return [
      id,
      t.operator,
      t.upstream.length ? `<- ${t.upstream.join(', ')}` : '(root)',
      t.triggerRule,
      `retries ${retries}`,
      ...(t.executionTimeoutMs !== null ? [`timeout ${formatDuration(t.executionTimeoutMs)}`] : []),
    ];
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) lines.push(`  ${r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i]!) : cell)).join('  ')}`.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** `flowchart LR`; nodes get safe ids (n0, n1...) and show task id and operator. */
function renderMermaid(dag: Dag): string {
  const node = new Map(dag.order.map((id, i) => [id, `n${i}`]));
  const lines = ['flowchart LR'];
  for (const id of dag.order) {
    const t = dag.tasks.get(id)!;
    const rule = t.triggerRule === 'all_success' ? '' : `<br/><i>${t.triggerRule}</i>`;
    lines.push(`  ${node.get(id)}["${id}<br/><small>${t.operator}</small>${rule}"]`);
  }
  for (const id of dag.order) for (const up of dag.tasks.get(id)!.upstream) lines.push(`  ${node.get(up)} --> ${node.get(id)}`);
  return `${lines.join('\n')}\n`;
}

/** A Graphviz digraph, left to right. */
function renderDot(dag: Dag): string {
  const esc = (s: string) => s.replace(/["\\]/g, '\\$&');
  const q = (s: string) => `"${esc(s)}"`;
  const lines = [`digraph ${q(dag.id)} {`, '  rankdir=LR;', '  node [shape=box, style=rounded];'];
  for (const id of dag.order) {
    const t = dag.tasks.get(id)!;
    const label = [id, t.operator, ...(t.triggerRule === 'all_success' ? [] : [`[${t.triggerRule}]`])].map(esc).join('\\n');
    lines.push(`  ${q(id)} [label="${label}"];`);
  }
  for (const id of dag.order) for (const up of dag.tasks.get(id)!.upstream) lines.push(`  ${q(up)} -> ${q(id)};`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
