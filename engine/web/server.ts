/**
 * The web server: server-rendered pages and a JSON API (/api/...) over
 * node:http, reading the state through its interfaces and acting through
 * the run lifecycle API (see actions.ts). Every answer is built from the
 * same objects (data.ts); errors a request can cause come back as 4xx with
 * a message, never a stack trace.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SluiceError, formatProblem } from '../errors.js';
import { redactText } from '../redact.js';
import * as act from './actions.js';
import { CSS, JS } from './assets.js';
import { dagFilePath, type WebContext } from './context.js';
import { clearPreview, dagGrid, dagList, markPreview, runDetail, runJson, taskLog } from './data.js';
import { WebError, flag, intParam, list, readFields, str } from './http.js';
import { layout, type Html } from './html.js';
import { gridVersion, runVersion, serveEvents, taskEvents, taskVersion, versionEvents } from './live.js';
import { Guard } from './security.js';
import * as views from './views/index.js';

export interface WebOptions {
  host: string;
  port: number;
  /** The secret every state-changing request proves it knows. */
  token: string;
  /**
   * Pages and GET API readable without logging in on a non-loopback
   * address. On loopback they always are (only the machine reaches them).
   */
  publicRead?: boolean;
}

export interface WebServer {
  /** `http://127.0.0.1:8080` (the port chosen when 0 was asked). */
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** What a finished action says on the page it leads to. */
const DONE: Record<string, string> = {
  triggered: 'Run triggered: it is being executed.',
  rerun: 'Run cleared and being executed again.',
  cleared: 'Tasks cleared: the run is queued and runs again.',
  marked: 'Run marked.',
  'tasks-marked': 'Task instances marked.',
  backfill: 'Backfill queued: its runs are listed in the grid as they run.',
  paused: 'DAG paused: the scheduler creates and starts no runs for it.',
  unpaused: 'DAG unpaused.',
};

interface Req {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  parts: string[];
  api: boolean;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null` on its own forms' POSTs
    'Referrer-Policy': 'same-origin',
    'Content-Security-Policy':
      "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ...headers,
  });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2) + '\n');
}

function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
  send(res, 303, 'text/plain; charset=utf-8', `see ${to}\n`, { Location: to, ...headers });
}

/** A local path to come back to after logging in (never another site). */
function safeNext(next: string | undefined | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') && !next.includes('\\') ? next : '/';
}

export async function startWebServer(ctx: WebContext, o: WebOptions): Promise<WebServer> {
  const guard = new Guard(o.token);
  const loopback = LOOPBACK.has(o.host);
  /** Reads without a log-in: on loopback (the machine's own users), or anywhere with --public-read. */
  const readsOpen = loopback || Boolean(o.publicRead);

  const page = (r: Req, title: string, body: Html, refresh?: number, status = 200, live?: string) => {
    const loggedIn = guard.session(r.req) !== null;
    send(
      r.res,
      status,
      'text/html; charset=utf-8',
      layout({ title, body, refresh, live, loggedIn, path: r.url.pathname + r.url.search }),
    );
  };
  const viewer = (r: Req): views.Viewer => {
    const s = guard.session(r.req);
    return { csrf: s ? guard.csrf(s) : null };
  };

  async function get(r: Req): Promise<void> {
    const [a, b, c, d, e] = r.parts;
    const q = r.url.searchParams;
    if (r.api) {
      if (a === 'dags' && !b) return sendJson(r.res, 200, await dagList(ctx));
      if (a === 'dags' && b && !c) return sendJson(r.res, 200, await dagGrid(ctx, b, intParam(q, 'page', 0, 0, 1_000_000)));
      if (a === 'runs' && !b) {
        const state = q.get('state') ?? undefined;
        if (state && !['queued', 'running', 'success', 'failed'].includes(state)) {
          throw new WebError(400, `state must be queued, running, success or failed, not '${state}'`);
        }
        const runs = await ctx.store.runs.list({
          dagId: q.get('dag') ?? undefined,
          state: state as 'queued' | undefined,
          limit: intParam(q, 'limit', 50, 1, 10_000),
        });
        return sendJson(r.res, 200, { runs: runs.map(runJson) });
      }
      if (a === 'runs' && b && !c) return sendJson(r.res, 200, await runDetail(ctx, b));
      if (a === 'runs' && b && c === 'tasks' && d && e === 'log')
        return sendJson(r.res, 200, await taskLog(ctx, b, d, logQuery(q)));
      throw new WebError(404, `no API route GET ${r.url.pathname} (see docs/web.md)`);
    }
    if (a === 'assets' && b === 'app.css' && !c) return send(r.res, 200, 'text/css; charset=utf-8', CSS);
    if (a === 'assets' && b === 'app.js' && !c) return send(r.res, 200, 'text/javascript; charset=utf-8', JS);
    if (a === 'favicon.ico') return send(r.res, 204, 'text/plain', '');
    if (!a) return page(r, 'DAGs', views.dagListPage(await dagList(ctx), viewer(r)));
    if (a === 'login' && !b) return page(r, 'Log in', views.loginPage(safeNext(q.get('next'))));
    if (a === 'runs' && !b) {
      const runs = await ctx.store.runs.list({ limit: 100 });
      return page(r, 'Runs', views.runsPage(runs.map(runJson)));
    }
    if (a === 'dags' && b && c === 'events' && !d) {
      const n = intParam(q, 'page', 0, 0, 1_000_000);
      const version = async () => gridVersion((await dagGrid(ctx, b, n)).runs);
      await version(); // a 404 before the stream starts
      return serveEvents(r.req, r.res, versionEvents(version, q.get('v') ?? ''));
    }
    if (a === 'runs' && b && c === 'events' && !d) {
      await runVersion(ctx, b);
      return serveEvents(
        r.req,
        r.res,
        versionEvents(() => runVersion(ctx, b), q.get('v') ?? ''),
      );
    }
    if (a === 'runs' && b && c === 'tasks' && d && e === 'events') {
      await taskVersion(ctx, b, d);
      const t = q.get('try');
      const after = q.get('after');
      return serveEvents(
        r.req,
        r.res,
        taskEvents(ctx, b, d, {
          v: q.get('v') ?? '',
          tryNumber: t ? intParam(q, 'try', 1, 1, 1_000_000) : null,
          after: after ? intParam(q, 'after', 0, 0, 100_000_000) : null,
        }),
      );
    }
    if (a === 'dags' && b && !c) {
      const n = intParam(q, 'page', 0, 0, 1_000_000);
      const g = await dagGrid(ctx, b, n);
      const ver = gridVersion(g.runs);
      const live = ver.live ? `/dags/${encodeURIComponent(b)}/events?page=${n}&v=${ver.v}` : undefined;
      const body = views.dagPage(g, viewer(r), DONE[q.get('done') ?? ''], q.get('run') ?? undefined);
      return page(r, `DAG ${b}`, body, ver.live ? 3 : undefined, 200, live);
    }
    if (a === 'runs' && b && !c) {
      const ver = await runVersion(ctx, b);
      const run = await runDetail(ctx, b);
      const live = ver.live ? `/runs/${encodeURIComponent(b)}/events?v=${ver.v}` : undefined;
      return page(r, `Run ${b}`, views.runPage(run, viewer(r), DONE[q.get('done') ?? '']), ver.live ? 2 : undefined, 200, live);
    }
    if (a === 'runs' && b && c === 'clear' && !d) {
      const o = {
        tasks: q.getAll('task').filter(Boolean),
        downstream: q.get('downstream') === 'true',
        upstream: q.get('upstream') === 'true',
        failedOnly: q.get('failed_only') === 'true',
      };
      const v = viewer(r);
      if (!v.csrf) throw new WebError(401, 'log in first (/login) to clear tasks');
      const p = await clearPreview(ctx, b, o);
      return page(r, `Clear ${b}`, views.clearConfirmPage({ runId: b, ...o, affected: p.affected }, v));
    }
    if (a === 'runs' && b && c === 'mark-tasks' && !d) {
      const o = {
        tasks: q.getAll('task').filter(Boolean),
        state: q.get('state') ?? undefined,
        downstream: q.get('downstream') === 'true',
        upstream: q.get('upstream') === 'true',
      };
      const v = viewer(r);
      if (!v.csrf) throw new WebError(401, 'log in first (/login) to mark task instances');
      const p = await markPreview(ctx, b, o);
      return page(r, `Mark ${b}`, views.markConfirmPage({ runId: b, ...o, state: o.state!, affected: p.affected }, v));
    }
    if (a === 'runs' && b && c === 'tasks' && d && !e) {
      const ver = await taskVersion(ctx, b, d);
      const t = await taskLog(ctx, b, d, { ...logQuery(q), tail: ver.live });
      const tail = t.q === null && t.try_number !== null && t.from - 1 + t.lines.length >= t.total_lines;
      const params = new URLSearchParams({ v: ver.v });
      if (t.try_number !== null) params.set('try', String(t.try_number));
      if (tail) params.set('after', String(t.total_lines));
      const live =
        ver.live && t.q === null ? `/runs/${encodeURIComponent(b)}/tasks/${encodeURIComponent(d)}/events?${params}` : undefined;
      return page(r, `Task ${d}`, views.taskPage(t, tail), live ? 2 : undefined, 200, live);
    }
    if (a === 'source' && b && !c) {
      const file = dagFilePath(ctx, b);
      const text = fs.readFileSync(file, 'utf8');
      const broken = ctx.loadDags().errors.find((x) => x.file === file);
      const problems = broken ? broken.problems.map((p) => redactText(formatProblem({ ...p, pos: { ...p.pos, file: b } }))) : [];
      const bad = new Set(broken ? broken.problems.map((p) => p.pos.line) : []);
      return page(r, b, views.sourcePage(b, redactText(text), problems, bad));
    }
    throw new WebError(404, `no page ${r.url.pathname}: start from the DAG list at /`);
  }

  async function post(r: Req): Promise<void> {
    const fields = await readFields(r.req);
    const [a, b, c] = r.parts;
    if (!r.api && a === 'login' && !b) {
      guard.checkOrigin(r.req);
      const next = safeNext(str(fields, 'next'));
      try {
        return redirect(r.res, next, { 'Set-Cookie': guard.login(str(fields, 'token')) });
      } catch (err) {
        if (err instanceof WebError) return page(r, 'Log in', views.loginPage(next, err.message), undefined, err.status);
        throw err;
      }
    }
    guard.authorize(r.req, fields);
    if (!r.api && a === 'logout' && !b) return redirect(r.res, '/', { 'Set-Cookie': guard.logout(r.req) });
    if (a === 'dags' && b && c === 'trigger') {
      const conf =
        r.api && typeof fields.conf === 'object' && fields.conf !== null
          ? (fields.conf as Record<string, unknown>)
          : act.confFromForm(ctx, b, fields);
      if (r.api && Array.isArray(fields.conf)) throw new WebError(400, 'conf must be a JSON object');
      const run = await act.trigger(ctx, b, { date: str(fields, 'date'), conf });
      return r.api
        ? sendJson(r.res, 201, runJson(run))
        : redirect(r.res, `/runs/${encodeURIComponent(run.runId)}?done=triggered`);
    }
    if (a === 'dags' && b && (c === 'pause' || c === 'unpause')) {
      const paused = r.api && 'paused' in fields ? flag(fields, 'paused') : c === 'pause';
      await act.setPaused(ctx, b, paused);
      return r.api
        ? sendJson(r.res, 200, { dag_id: b, paused })
        : redirect(r.res, `/dags/${encodeURIComponent(b)}?done=${paused ? 'paused' : 'unpaused'}`);
    }
    if (a === 'runs' && b && c === 'rerun') {
      const { cleared } = await act.rerun(ctx, b, flag(fields, 'failed_only'));
      return r.api ? sendJson(r.res, 200, { run_id: b, cleared }) : redirect(r.res, `/runs/${encodeURIComponent(b)}?done=rerun`);
    }
    if (a === 'runs' && b && c === 'clear') {
      const o = {
        tasks: [...list(fields, 'task'), ...list(fields, 'tasks')],
        downstream: flag(fields, 'downstream'),
        upstream: flag(fields, 'upstream'),
        failedOnly: flag(fields, 'failed_only'),
      };
      if (r.api && flag(fields, 'dry_run')) {
        const p = await clearPreview(ctx, b, o);
        return sendJson(r.res, 200, { run_id: b, dry_run: true, cleared: p.affected.map((x) => x.task_id) });
      }
      const done = await act.clear(ctx, b, o);
      return r.api
        ? sendJson(r.res, 200, { run_id: b, cleared: done.cleared, executing_here: done.executing_here })
        : redirect(r.res, `/runs/${encodeURIComponent(b)}?done=cleared`);
    }
    if (a === 'runs' && b && c === 'mark-tasks') {
      const o = {
        tasks: [...list(fields, 'task'), ...list(fields, 'tasks')],
        state: str(fields, 'state'),
        downstream: flag(fields, 'downstream'),
        upstream: flag(fields, 'upstream'),
      };
      if (r.api && flag(fields, 'dry_run')) {
        const p = await markPreview(ctx, b, o);
        return sendJson(r.res, 200, { run_id: b, dry_run: true, tasks: p.affected.map((x) => x.task_id) });
      }
      const done = await act.markTasks(ctx, b, o);
      return r.api
        ? sendJson(r.res, 200, {
            ...runJson(done.run),
            marked: done.marked,
            executing_here: done.executing_here,
          })
        : redirect(r.res, `/runs/${encodeURIComponent(b)}?done=tasks-marked`);
    }
    if (a === 'dags' && b && c === 'backfill') {
      const dryRun = r.api && flag(fields, 'dry_run');
      const done = await act.backfill(ctx, b, {
        from: str(fields, 'from'),
        to: str(fields, 'to'),
        reprocess: str(fields, 'reprocess'),
        dryRun,
      });
      if (!r.api) return redirect(r.res, `/dags/${encodeURIComponent(b)}?done=backfill`);
      return sendJson(r.res, dryRun ? 200 : 202, {
        dag_id: b,
        dry_run: dryRun,
        plan: done.plan.map((p) => ({
          logical_date: p.interval.start.toISOString(),
          data_interval: [p.interval.start.toISOString(), p.interval.end.toISOString()],
          existing_run: p.existing?.runId ?? null,
          existing_state: p.existing?.state ?? null,
          action: p.action,
        })),
        run_ids: done.runIds,
        executing_here: done.executing_here,
      });
    }
    if (a === 'runs' && b && c === 'mark') {
      const run = await act.mark(ctx, b, str(fields, 'state'));
      return r.api ? sendJson(r.res, 200, runJson(run)) : redirect(r.res, `/runs/${encodeURIComponent(b)}?done=marked`);
    }
    throw new WebError(404, `no route POST ${r.url.pathname}${r.api ? ' (see docs/web.md)' : ''}`);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let r: Req | null = null;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (loopback) {
        // A page of another site resolving its own name to 127.0.0.1 (DNS rebinding) is not this server's page.
        const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
        if (!LOOPBACK.has(hostname))
          throw new WebError(421, `unexpected Host '${req.headers.host ?? ''}': use http://127.0.0.1:<port>/`);
      }
      let parts: string[];
      try {
        parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      } catch {
        throw new WebError(400, `malformed path ${url.pathname}`);
      }
      const api = parts[0] === 'api';
      r = { req, res, url, parts: api ? parts.slice(1) : parts, api };
      if (req.method === 'GET' || req.method === 'HEAD') {
        const open = !api && (parts[0] === 'login' || parts[0] === 'assets' || parts[0] === 'favicon.ico');
        if (!readsOpen && !open && !guard.mayRead(req)) {
          if (api) throw new WebError(401, 'log in or send the token (Authorization: Bearer <token>) to read this server');
          return redirect(res, `/login?next=${encodeURIComponent(safeNext(url.pathname + url.search))}`);
        }
        await get(r);
      } else if (req.method === 'POST') await post(r);
      else throw new WebError(405, `method ${req.method} not allowed: pages are read with GET, actions are POSTs`);
    } catch (err) {
      const known = err instanceof WebError || err instanceof SluiceError;
      const status = err instanceof WebError ? err.status : err instanceof SluiceError ? 400 : 500;
      const message = known
        ? redactText((err as Error).message)
        : 'internal error: the request could not be completed (the webserver printed the cause)';
      if (!known)
        process.stderr.write(`sluice webserver: ${req.method} ${req.url}: ${redactText(String((err as Error)?.stack ?? err))}\n`);
      if (res.headersSent) return void res.end();
      if (r && !r.api) page(r, 'Error', views.errorPage(status, message), undefined, status);
      else sendJson(res, status, { error: message, status });
    }
  }

  const server = http.createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function logQuery(q: URLSearchParams) {
  const t = q.get('try');
  return {
    tryNumber: t === null || t === '' ? undefined : intParam(q, 'try', 1, 1, 1_000_000),
    from: q.get('from') ? intParam(q, 'from', 1, 1, 100_000_000) : undefined,
    count: intParam(q, 'count', 500, 1, 5000),
    q: q.get('q') || undefined,
  };
}
