/**
 * Live pages over server-sent events. A page that shows something still
 * going (a run, a running task) names an event stream and the version of
 * what it shows; the stream checks the state every second and says
 * `change` once the version differs (the page's script then fetches the
 * page again and swaps its content), `lines` with the log lines a running
 * try added since (appended to the tail as they come), and `end` when
 * nothing more will change. Without script, the page's
 * `<noscript><meta http-equiv="refresh"></noscript>` reloads it instead.
 */
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactText, redactValue } from '../redact.js';
import type { WebContext } from './context.js';
import { WebError } from './http.js';

/** How often a stream looks at the state. */
export const POLL_MS = 1000;
/** A comment line this often keeps proxies from closing an idle stream. */
const HEARTBEAT_MS = 15_000;

const hash = (s: string) => crypto.createHash('sha1').update(s).digest('base64url').slice(0, 12);

/** What a run page shows that can change, as a short version string; live while the run may still change. */
export async function runVersion(ctx: WebContext, runId: string): Promise<{ v: string; live: boolean }> {
  const run = await ctx.store.runs.get(runId);
  if (!run) throw new WebError(404, `no run '${runId}'`);
  const tasks = await ctx.store.tasks.list(runId);
  const executing = ctx.runs.isExecuting(run);
  const live = executing || run.state === 'queued' || run.state === 'running';
  const v = hash(JSON.stringify([run.state, executing, run.endedAt, tasks.map((t) => [t.taskId, t.state, t.tryNumber])]));
  return { v, live };
}

/** What a task page shows that can change (not its log lines: they come as `lines`). */
export async function taskVersion(ctx: WebContext, runId: string, taskId: string): Promise<{ v: string; live: boolean }> {
  const run = await ctx.store.runs.get(runId);
  const ti = await ctx.store.tasks.get(runId, taskId);
  if (!run || !ti) throw new WebError(404, `run ${runId} has no task '${taskId}'`);
  const live =
    ti.state === 'running' ||
    ti.state === 'queued' ||
    ti.state === 'up_for_retry' ||
    ti.state === 'scheduled' ||
    run.state === 'running';
  return { v: hash(JSON.stringify([run.state, ti.state, ti.tryNumber])), live };
}

type Send = (event: string, data: unknown) => void;

/**
 * Serves one event stream: `tick` runs every POLL_MS until it returns
 * false (nothing more to watch) or the browser goes away.
 */
export function serveEvents(req: IncomingMessage, res: ServerResponse, tick: (send: Send) => Promise<boolean>): void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'keep-alive',
  });
  const send: Send = (event, data) => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.write('retry: 2000\n\n');
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let lastBeat = Date.now();
  const stop = () => {
    closed = true;
    clearTimeout(timer);
  };
  req.on('close', stop);
  res.on('close', stop);
  const loop = async () => {
    if (closed) return;
    let more: boolean;
    try {
      more = await tick(send);
    } catch (err) {
      send('error', { error: err instanceof WebError ? err.message : 'the state could not be read' });
      more = false;
    }
    if (closed) return;
    if (!more) {
      stop();
      res.end();
      return;
    }
    if (Date.now() - lastBeat > HEARTBEAT_MS) {
      res.write(': still here\n\n');
      lastBeat = Date.now();
    }
    timer = setTimeout(() => void loop(), POLL_MS);
  };
  void loop();
}

/** A DAG grid page's version: its runs and their tasks' states; live while one of them goes on. */
export function gridVersion(runs: { run_id: string; state: string; tasks: Record<string, unknown> }[]): {
  v: string;
  live: boolean;
} {
  return {
    v: hash(JSON.stringify(runs.map((r) => [r.run_id, r.state, r.tasks]))),
    live: runs.some((r) => r.state === 'running' || r.state === 'queued'),
  };
}

/** A page's stream: `change` when `version()` differs from `v` (what the page shows), `end` once nothing goes on. */
export function versionEvents(version: () => Promise<{ v: string; live: boolean }>, v: string): (send: Send) => Promise<boolean> {
  let shown = v;
  return async (send) => {
    const now = await version();
    if (now.v !== shown) {
      shown = now.v;
      send('change', { v: now.v });
    }
    if (!now.live) send('end', {});
    return now.live;
  };
}

/**
 * A task page's stream: `lines` with the try's log lines after line
 * `after` (when the page shows the log's tail), `change` when the task
 * differs from version `v`, `end` once it is over.
 */
export function taskEvents(
  ctx: WebContext,
  runId: string,
  taskId: string,
  o: { v: string; tryNumber: number | null; after: number | null },
): (send: Send) => Promise<boolean> {
  let shown = o.v;
  let after = o.after;
  return async (send) => {
    const now = await taskVersion(ctx, runId, taskId);
    if (after !== null && o.tryNumber !== null) {
      const t = (await ctx.store.tasks.tries(runId, taskId)).find((x) => x.tryNumber === o.tryNumber);
      if (t) {
        const lines = await ctx.store.logs.list(t.tryId, { offset: after, limit: 1000 });
        if (lines.length) {
          send(
            'lines',
            lines.map((l, i) => ({
              line: after! + i + 1,
              ts: l.ts.toISOString(),
              level: l.level,
              msg: redactText(l.msg),
              data: l.data === null ? null : redactValue(l.data),
            })),
          );
          after += lines.length;
        }
      }
    }
    if (now.v !== shown) {
      shown = now.v;
      send('change', { v: now.v });
    }
    if (!now.live) send('end', {});
    return now.live;
  };
}
