/**
 * A DAG's graph as inline SVG, laid out on the server with dagre (the
 * layered layout Airflow's own graph view uses), so the page needs no
 * script to draw it. Layouts depend only on the tasks and their edges:
 * they are cached per shape, and states only change the colours.
 */
import { Graph, layout } from '@dagrejs/dagre';
import { html, raw, stateClass } from './html.js';

export interface GraphTask {
  task_id: string;
  operator: string;
  upstream: string[];
}

interface Placed {
  nodes: { id: string; operator: string; x: number; y: number }[];
  edges: { from: string; to: string; points: { x: number; y: number }[] }[];
  width: number;
  height: number;
}

const NODE_H = 36;
const CHAR_W = 7.2;
const MAX_CACHED = 200;
const cache = new Map<string, Placed>();

function place(tasks: GraphTask[]): Placed {
  const key = JSON.stringify(tasks.map((t) => [t.task_id, t.operator, t.upstream]));
  const hit = cache.get(key);
  if (hit) return hit;
  const g = new Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 40, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((t) => t.task_id));
  for (const t of tasks) {
    const width = Math.max(t.task_id.length, t.operator.length) * CHAR_W + 20;
    g.setNode(t.task_id, { width, height: NODE_H });
  }
  for (const t of tasks) for (const u of t.upstream) if (ids.has(u)) g.setEdge(u, t.task_id);
  layout(g);
  const info = g.graph();
  const placed: Placed = {
    nodes: tasks.map((t) => {
      const n = g.node(t.task_id);
      return { id: t.task_id, operator: t.operator, x: n.x - n.width / 2, y: n.y - n.height / 2 };
    }),
    edges: g.edges().map((e: { v: string; w: string }) => ({ from: e.v, to: e.w, points: g.edge(e).points ?? [] })),
    width: Math.ceil(info.width ?? 0),
    height: Math.ceil(info.height ?? 0),
  };
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
  cache.set(key, placed);
  return placed;
}

const widthOf = (id: string, operator: string) => Math.max(id.length, operator.length) * CHAR_W + 20;

/**
 * The graph: one box per task coloured by its state in `states` (absent:
 * no status), each a link (`href(task)`) when given, edges upstream to
 * downstream. Every box carries `data-task`, so a live page can recolour it.
 */
export function graphSvg(
  tasks: GraphTask[],
  states: Record<string, string | null | undefined>,
  href?: (taskId: string) => string,
): string {
  if (!tasks.length) return '';
  const p = place(tasks);
  const edges = p.edges.map(
    (e) =>
      `<path class="edge" d="${e.points.map((pt, i) => `${i ? 'L' : 'M'}${pt.x.toFixed(1)},${pt.y.toFixed(1)}`).join('')}" marker-end="url(#arrow)"/>`,
  );
  const nodes = p.nodes.map((n) => {
    const state = states[n.id] ?? null;
    const w = widthOf(n.id, n.operator);
    const dark = state === 'success' || state === 'failed' || state === 'queued';
    const box = html`<g
      class="node${dark ? ' dark' : ''}"
      data-task="${n.id}"
      transform="translate(${n.x.toFixed(1)},${n.y.toFixed(1)})"
      ><title>${n.id} (${n.operator}): ${state ?? 'no status'}</title
      ><rect width="${w.toFixed(1)}" height="${NODE_H}" rx="5" class="${stateClass(state)}" /><text x="10" y="15" class="id"
        >${n.id}</text
      ><text x="10" y="29" class="op">${n.operator}</text></g
    >`.text;
    return href ? html`<a href="${href(n.id)}">${raw(box)}</a>`.text : box;
  });
  return (
    `<svg class="graph" viewBox="0 0 ${p.width} ${p.height}" width="${p.width}" height="${p.height}" role="img" xmlns="http://www.w3.org/2000/svg">` +
    `<title>task graph</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" class="arrow"/></marker></defs>` +
    edges.join('') +
    nodes.join('') +
    '</svg>'
  );
}
