import { expect } from 'chai';
import { Project } from '../helpers/cli.js';
import { eventually, startWeb, type RunningWeb } from '../helpers/web.js';

const DAG = `
dag: live
description: a slow shell task between two others, and typed params
schedule: null
start_date: 2024-01-01
params:
  limit:
    type: integer
    minimum: 1
    default: 10
    description: rows per batch
  target:
    type: string
    description: where to load
  dry: false
  mode:
    type: string
    enum: [fast, safe]
    default: safe
tasks:
  start: { operator: Succeed }
  talk:
    operator: Shell
    upstream: [start]
    command: "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.3; done"
  finish: { operator: Succeed, upstream: [talk] }
`;

const MANUAL = `
dag: manual
schedule: null
start_date: 2024-01-01
tasks:
  a: { operator: Succeed }
  b: { operator: Echo, upstream: [a], message: "b ran" }
`;

/** Markup with its white space collapsed (the templates are formatted over several lines). */
const flat = (s: string) => s.replace(/\s+/g, ' ');

interface Event {
  event: string;
  data: unknown;
}

/** Reads a server-sent event stream until `until` holds for the events so far, or it ends. */
async function readEvents(url: string, until: (events: Event[]) => boolean): Promise<Event[]> {
  const res = await fetch(url);
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.contain('text/event-stream');
  const events: Event[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return events;
      buf += decoder.decode(value, { stream: true });
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event) events.push({ event, data: data ? JSON.parse(data) : null });
      }
      if (until(events)) return events;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

describe('the web UI: graph, live updates, the params form, --public-read, scheduler --web', function () {
  this.timeout(120_000);
  let p: Project;
  let web: RunningWeb;
  const auth = () => ({ authorization: `Bearer ${web.token!}` });
  const form = (path: string, fields: [string, string][]) =>
    fetch(web.url + path, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth() },
      body: new URLSearchParams(fields).toString(),
    });

  before(async () => {
    p = new Project();
    p.write('dags/live.yaml', DAG);
    web = await startWeb(p);
  });
  after(async () => {
    await web?.stop();
    p?.remove();
  });

  it('generates the trigger form from the params and checks the values on the server, as run-dag --conf', async () => {
    const login = await fetch(web.url + '/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: web.token!, next: '/dags/live' }).toString(),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const page = flat(await (await fetch(web.url + '/dags/live', { headers: { cookie } })).text());
    expect(page).to.match(/<input type="number" name="param\.limit" value="10" step="1"\s*\/>/);
    expect(page).to.match(/<input type="text" name="param\.target" value="" size="30" required\s*\/>/);
    expect(page).to.contain('rows per batch');
    expect(page).to.match(/<option value="false" selected>false<\/option>/);
    expect(page).to.match(/<option value="safe" selected>safe<\/option>/);

    const missing = await form('/dags/live/trigger', [
      ['date', '2024-02-01'],
      ['param.limit', '10'],
      ['param.target', ''],
    ]);
    expect(missing.status).to.equal(400);
    const missingText = await missing.text();
    expect(missingText).to.match(/params\.target: required/);

    const bad = await form('/dags/live/trigger', [
      ['date', '2024-02-01'],
      ['param.limit', '0'],
      ['param.target', 'dw'],
    ]);
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.match(/params\.limit.*(minimum|>=|at least|1)/);

    const ok = await form('/dags/live/trigger', [
      ['date', '2024-02-01'],
      ['param.limit', '25'],
      ['param.target', 'dw'],
      ['param.dry', 'true'],
      ['param.mode', 'fast'],
    ]);
    expect(ok.status, await ok.clone().text()).to.equal(303);
    const runId = 'live__manual__2024-02-01T00:00:00Z';
    const run = (await (await fetch(`${web.url}/api/runs/${encodeURIComponent(runId)}`)).json()) as { conf: unknown };
    expect(run.conf).to.deep.equal({ limit: 25, target: 'dw', dry: true, mode: 'fast' });
    await eventually(async () => {
      const r = (await (await fetch(`${web.url}/api/runs/${encodeURIComponent(runId)}`)).json()) as { state: string };
      return r.state === 'success' ? r : undefined;
    }, 'the form-triggered run to finish');
  });

  it('streams a running run: change events as tasks move, new log lines of the running task, then end', async () => {
    const res = await fetch(web.url + '/api/dags/live/trigger', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth() },
      body: JSON.stringify({ date: '2024-03-01', conf: { target: 'dw' } }),
    });
    expect(res.status).to.equal(201);
    const runId = 'live__manual__2024-03-01T00:00:00Z';
    const runPath = `/runs/${encodeURIComponent(runId)}`;

    const page = await (await fetch(web.url + runPath)).text();
    const live = /<main data-live="([^"]+)"/.exec(page)?.[1];
    expect(live, 'a running run page names its event stream').to.match(/^\/runs\/.+\/events\?v=[\w-]+$/);
    expect(page).to.contain('<noscript><meta http-equiv="refresh" content="2"></noscript>');
    // the graph: one box per task, with its state, linked to its task page
    expect(page).to.match(/<svg class="graph"/);
    for (const t of ['start', 'talk', 'finish']) expect(page).to.contain(`data-task="${t}"`);
    expect(page).to.contain(`href="${runPath}/tasks/talk"`);

    const [runEvents, taskEvents] = await Promise.all([
      readEvents(web.url + live!.replace(/&amp;/g, '&'), (ev) => ev.some((e) => e.event === 'end')),
      readEvents(`${web.url}${runPath}/tasks/talk/events?v=x&try=1&after=0`, (ev) => ev.some((e) => e.event === 'end')),
    ]);
    expect(runEvents.filter((e) => e.event === 'change').length).to.be.at.least(1);
    expect(runEvents[runEvents.length - 1]!.event).to.equal('end');
    const lines = taskEvents.filter((e) => e.event === 'lines').flatMap((e) => e.data as { line: number; msg: string }[]);
    const ticks = lines.filter((l) => /^tick \d$/.test(l.msg)).map((l) => l.msg);
    expect(ticks).to.deep.equal(['tick 1', 'tick 2', 'tick 3', 'tick 4', 'tick 5', 'tick 6']);
    expect(lines.map((l) => l.line)).to.deep.equal(lines.map((_, i) => i + 1)); // numbered from 1, none twice
    expect(taskEvents.filter((e) => e.event === 'lines').length, 'lines arrive while the task runs').to.be.above(1);

    // the finished run's page is no longer live; the DAG page shows the graph of the run chosen in the grid
    const done = flat(await (await fetch(web.url + runPath)).text());
    expect(done).not.to.contain('data-live');
    expect(done).not.to.contain('http-equiv="refresh"');
    expect(done).to.match(/<g class="node dark" data-task="talk"[^>]*>\s*<title>talk \(Shell\): success<\/title/);
    const grid = await (await fetch(`${web.url}/dags/live?run=${encodeURIComponent(runId)}`)).text();
    expect(grid).to.contain(`Graph of <a href="${runPath}">${runId}</a>`);
    expect(grid).to.match(/<svg class="graph"/);
  });

  it('serves a long log page by line range (the state store pages it)', async () => {
    const runId = 'live__manual__2024-03-01T00:00:00Z';
    const log = (await (
      await fetch(`${web.url}/api/runs/${encodeURIComponent(runId)}/tasks/talk/log?from=2&count=3`)
    ).json()) as { total_lines: number; from: number; lines: { line: number }[] };
    expect(log.total_lines).to.be.at.least(7);
    expect(log.from).to.equal(2);
    expect(log.lines.map((l) => l.line)).to.deep.equal([2, 3, 4]);
  });

  it('on a non-loopback address, asks a log-in to read unless --public-read', async () => {
    const q = new Project();
    q.write('dags/live.yaml', DAG);
    const closed = await startWeb(q, {}, ['webserver', '--host', '127.0.0.2', '--port', '0']);
    try {
      expect(closed.url).to.match(/^http:\/\/127\.0\.0\.2:/);
      const page = await fetch(closed.url + '/dags/live', { redirect: 'manual' });
      expect(page.status).to.equal(303);
      expect(page.headers.get('location')).to.equal('/login?next=%2Fdags%2Flive');
      const api = await fetch(closed.url + '/api/dags');
      expect(api.status).to.equal(401);
      expect(((await api.json()) as { error: string }).error).to.contain('log in or send the token');
      expect((await fetch(closed.url + '/login')).status).to.equal(200);
      expect((await fetch(closed.url + '/assets/app.js')).status).to.equal(200);
      const withToken = await fetch(closed.url + '/api/dags', { headers: { authorization: `Bearer ${closed.token!}` } });
      expect(withToken.status).to.equal(200);
      expect(closed.output().stderr).to.contain('pages need a log-in');
    } finally {
      await closed.stop();
    }
    const open = await startWeb(q, {}, ['webserver', '--host', '127.0.0.2', '--port', '0', '--public-read']);
    try {
      expect((await fetch(open.url + '/dags/live')).status).to.equal(200);
      expect((await fetch(open.url + '/api/dags')).status).to.equal(200);
      const post = await fetch(open.url + '/api/dags/live/pause', { method: 'POST' });
      expect(post.status, 'changes still need the token').to.equal(401);
    } finally {
      await open.stop();
      q.remove();
    }
  });

  it('sluice scheduler --web serves the UI; a run triggered there is queued and the scheduler runs it', async () => {
    const q = new Project();
    q.write('dags/manual.yaml', MANUAL);
    const s = await startWeb(q, {}, ['scheduler', '--web', '--port', '0']);
    try {
      expect(s.output().stdout).to.match(/sluice scheduler: serving http:\/\/127\.0\.0\.1:\d+\//);
      const res = await fetch(s.url + '/api/dags/manual/trigger', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token!}` },
        body: JSON.stringify({ date: '2024-05-01' }),
      });
      expect(res.status).to.equal(201);
      const queued = (await res.json()) as { state: string; run_id: string };
      expect(queued.state).to.equal('queued'); // not claimed by the web side: the scheduler takes it
      const done = await eventually(async () => {
        const r = (await (await fetch(`${s.url}/api/runs/${encodeURIComponent(queued.run_id)}`)).json()) as {
          state: string;
          tasks: { state: string; tries: { pid: number }[] }[];
        };
        return r.state === 'success' ? r : undefined;
      }, 'the scheduler to run the queued run');
      expect(done.tasks.map((t) => t.state)).to.deep.equal(['success', 'success']);
    } finally {
      expect(await s.stop()).to.equal(0);
      q.remove();
    }
  });
});
