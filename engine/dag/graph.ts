/** Graph facts of a DAG: downstream lists, cycles and a stable topological order. */

/** task id -> ids of the tasks that list it upstream (every task has an entry). */
export function downstreamOf(ids: readonly string[], upstream: ReadonlyMap<string, readonly string[]>): Map<string, string[]> {
  const down = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const id of ids) for (const up of upstream.get(id) ?? []) down.get(up)?.push(id);
  return down;
}

/**
 * The cycles of the graph, each as its tasks in edge order ([a, b, c] means
 * a -> b -> c -> a) starting at the member that comes first in `ids`.
 */
export function findCycles(ids: readonly string[], upstream: ReadonlyMap<string, readonly string[]>): string[][] {
  const down = downstreamOf(ids, upstream);
  const rank = new Map(ids.map((id, i) => [id, i]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();

  const visit = (id: string): void => {
    state.set(id, 'open');
    stack.push(id);
    for (const next of down.get(id) ?? []) {
      if (state.get(next) === 'open') {
        const cycle = stack.slice(stack.indexOf(next));
        const first = cycle.reduce((a, b) => (rank.get(a)! <= rank.get(b)! ? a : b));
        const rotated = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first))];
        const key = rotated.join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(rotated);
        }
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };
  for (const id of ids) if (!state.has(id)) visit(id);
  return cycles;
}

/**
 * A topological order (upstream before downstream); among tasks that are
 * ready at the same time, file order wins. Tasks on a cycle are left out.
 */
export function topoOrder(ids: readonly string[], upstream: ReadonlyMap<string, readonly string[]>): string[] {
  const down = downstreamOf(ids, upstream);
  const waiting = new Map(ids.map((id) => [id, (upstream.get(id) ?? []).filter((u) => down.has(u)).length]));
  const rank = new Map(ids.map((id, i) => [id, i]));
  const ready = ids.filter((id) => waiting.get(id) === 0);
  const order: string[] = [];
  while (ready.length) {
    const id = ready.shift()!;
    order.push(id);
    for (const next of down.get(id)!) {
      const left = waiting.get(next)! - 1;
      waiting.set(next, left);
      if (left === 0) {
        const at = ready.findIndex((r) => rank.get(r)! > rank.get(next)!);
        ready.splice(at < 0 ? ready.length : at, 0, next);
      }
    }
  }
  return order;
}
