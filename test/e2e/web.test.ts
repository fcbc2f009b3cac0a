import { expect } from 'chai';
import http from 'node:http';
import { Project } from '../helpers/cli.js';
import { eventually, startWeb, type RunningWeb } from '../helpers/web.js';

const DAG = `
dag: failing
description: one task fails, one echoes a secret URL
schedule: "@daily"
start_date: 2024-01-01
params:
  x: 0
tasks:
  ok: { operator: Succeed }
  echo: { operator: Echo, upstream: [ok], message: "hello", secret_url: "postgres://etl:s3cretpw@db:5432/x" }
  broken: { operator: Fail, upstream: [echo], message: "cannot reach postgres://etl:s3cretpw@db/x" }
  after: { operator: Succeed, upstream: [broken] }
`;

const BROKEN = `dag: broken
schedule: "@daily"
start_date: 2024-01-01
tasks:
  a: { operator: Nope }
`;

/** A response's JSON body, typed as the test expects it. */
const body = <T>(r: Response): Promise<T> => r.json() as Promise<T>;

const RUN = 'failing__manual__2024-03-05T00:00:00Z';
const runPath = (id: string) => `/runs/${encodeURIComponent(id)}`;

describe('sluice webserver over HTTP', function () {
  this.timeout(120_000);
  let p: Project;
  let web: RunningWeb;
  let token: string;

  before(async () => {
    p = new Project();
    p.write('dags/failing.yaml', DAG);
    p.write('dags/broken.yaml', BROKEN);
    const r = p.run(['run-dag', 'failing', '--date', '2024-03-05']);
    expect(r.code, r.stderr).to.equal(1);
    web = await startWeb(p);
    token = web.token!;
  });
  after(async () => {
    const code = await web?.stop();
    expect(code).to.equal(0);
    p.remove();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(web.url + path, { headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(web.url + path, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const bearer = () => ({ authorization: `Bearer ${token}` });

  it('prints a generated token once and binds 127.0.0.1', () => {
    expect(web.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(token).to.match(/^[A-Za-z0-9_-]{24,}$/);
    expect(web.output().stdout.split(token).length - 1).to.equal(1);
  });

  it('serves the DAG list with broken files and their file:line errors, and the JSON API', async () => {
    const res = await get('/');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.contain('text/html');
    const body = await res.text();
    expect(body).to.contain('href="/dags/failing"');
    expect(body).to.contain('broken.yaml:5:');
    expect(body).to.contain('unknown operator &#39;Nope&#39;');
    expect(body).to.contain('st-failed'); // the failed run's square
    const api = (await (await get('/api/dags')).json()) as {
      dags: { dag_id: string; recent_runs: { state: string }[] }[];
      errors: { file: string }[];
    };
    expect(api.dags.map((d) => d.dag_id)).to.deep.equal(['failing']);
    expect(api.dags[0]!.recent_runs).to.deep.equal([{ run_id: RUN, state: 'failed', logical_date: '2024-03-05T00:00:00.000Z' }]);
    expect(api.errors.map((e) => e.file)).to.deep.equal(['broken.yaml']);
  });

  it('serves the grid, the run, the task log (paged, searched) and the DAG source without any secret', async () => {
    const pages = [
      '/dags/failing',
      runPath(RUN),
      `${runPath(RUN)}/tasks/echo`,
      `${runPath(RUN)}/tasks/broken?q=reach`,
      '/source/failing.yaml',
      '/api/dags/failing',
      `/api/runs/${encodeURIComponent(RUN)}`,
      `/api/runs/${encodeURIComponent(RUN)}/tasks/echo/log`,
      '/runs',
    ];
    for (const path of pages) {
      const res = await get(path);
      const body = await res.text();
      expect(res.status, path).to.equal(200);
      expect(body, path).not.to.contain('s3cretpw');
      expect(body, path).not.to.contain('hunter2');
      expect(body, path).not.to.contain(token);
    }
    const run = await (await get(runPath(RUN))).text();
    expect(run).to.contain('class="chart timeline"'); // the Gantt of tries
    expect(run).to.match(/<span class="badge st-failed">failed<\/span>/);
    const log = await (await get(`${runPath(RUN)}/tasks/broken?q=REACH`)).text();
    expect(log).to.match(/<span id="match-count">1 match in \d+ lines<\/span>/);
    expect(log).to.contain('<mark>reach</mark>');
    const paged = (await (await get(`/api/runs/${encodeURIComponent(RUN)}/tasks/broken/log?from=2&count=1`)).json()) as {
      lines: { line: number }[];
      total_lines: number;
    };
    expect(paged.lines.map((l) => l.line)).to.deep.equal(paged.total_lines >= 2 ? [2] : []);
  });

  it('answers bad requests with 4xx and a clear message, never a stack trace', async () => {
    const cases: [string, number, string][] = [
      ['/dags/nope', 404, "no DAG 'nope'"],
      ['/runs/nope', 404, "no run 'nope'"],
      [`${runPath(RUN)}/tasks/nope`, 404, "has no task 'nope'"],
      [`${runPath(RUN)}/tasks/ok?try=9`, 404, 'has no try 9'],
      [`${runPath(RUN)}/tasks/ok?from=0`, 400, "'from' must be a whole number"],
      ['/source/..%2F..%2Fetc%2Fpasswd', 404, "no DAG file '../../etc/passwd'"],
      ['/api/nothing', 404, 'no API route'],
      ['/api/runs?state=bogus', 400, 'state must be'],
    ];
    for (const [path, status, text] of cases) {
      const res = await get(path);
      const body = await res.text();
      expect(res.status, path).to.equal(status);
      expect(body, path).to.contain(text.replace(/'/g, path.startsWith('/api') ? "'" : '&#39;'));
      expect(body, path).not.to.match(/\n\s+at /);
    }
    const notJson = await fetch(web.url + '/api/dags/failing/trigger', {
      method: 'POST',
      headers: { ...bearer(), 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(notJson.status).to.equal(400);
    expect(await notJson.text()).to.contain('not valid JSON');
    const put = await fetch(web.url + '/', { method: 'PUT' });
    expect(put.status).to.equal(405);
  });

  it('refuses state changes without the token, with a wrong one, cross-origin, or without the CSRF value', async () => {
    const path = '/api/dags/failing/pause';
    expect((await post(path, {})).status).to.equal(401);
    expect((await post(path, {}, { authorization: 'Bearer wrong-token-wrong-token' })).status).to.equal(403);
    expect((await post(path, {}, { ...bearer(), origin: 'http://evil.example' })).status).to.equal(403);
    // a page of another site whose name resolves to 127.0.0.1 (DNS rebinding)
    const rebound = await new Promise<number>((resolve, reject) =>
      http.get(web.url + '/', { headers: { host: 'evil.example' } }, (res) => resolve(res.statusCode!)).on('error', reject),
    );
    expect(rebound).to.equal(421);
    // a browser session: logging in needs the token; its forms then need the session's CSRF value
    const wrong = await fetch(web.url + '/login', {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token: 'nope' }),
    });
    expect(wrong.status).to.equal(403);
    const login = await fetch(web.url + '/login', {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token, next: '/' }),
    });
    expect(login.status).to.equal(303);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    expect(login.headers.get('set-cookie')).to.contain('HttpOnly').and.contain('SameSite=Strict');
    const form = (fields: Record<string, string>) =>
      fetch(web.url + '/dags/failing/pause', {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie },
        body: new URLSearchParams(fields),
      });
    expect((await form({})).status).to.equal(403);
    expect((await form({ _csrf: 'forged' })).status).to.equal(403);
    const page = await (await get('/dags/failing', { cookie })).text();
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    expect(page).not.to.contain(token);
    const ok = await form({ _csrf: csrf });
    expect(ok.status).to.equal(303);
    expect((await body<{ dags: { paused: boolean }[] }>(await get('/api/dags'))).dags[0]!.paused).to.equal(true);
    const un = await post('/api/dags/failing/unpause', {}, bearer());
    expect(await un.json()).to.deep.equal({ dag_id: 'failing', paused: false });
  });

  it('triggers with a date and conf, reruns failed tasks, clears with downstream and marks, through the API', async () => {
    const trig = await post('/api/dags/failing/trigger', { date: '2024-03-06', conf: { x: 1 } }, bearer());
    expect(trig.status).to.equal(201);
    const run = (await trig.json()) as { run_id: string; conf: unknown };
    expect(run.run_id).to.equal('failing__manual__2024-03-06T00:00:00Z');
    expect(run.conf).to.deep.equal({ x: 1 });
    const detail = (id: string) =>
      get(`/api/runs/${encodeURIComponent(id)}`).then(
        (r) =>
          r.json() as Promise<{
            state: string;
            executing: boolean;
            tasks: { task_id: string; state: string; tries: unknown[] }[];
          }>,
      );
    const ended = await eventually(async () => {
      const d = await detail(run.run_id);
      return d.state === 'failed' && !d.executing ? d : undefined;
    }, 'the triggered run to fail');
    expect(ended.tasks.map((t) => [t.task_id, t.state])).to.deep.equal([
      ['ok', 'success'],
      ['echo', 'success'],
      ['broken', 'failed'],
      ['after', 'upstream_failed'],
    ]);
    const again = await post('/api/dags/failing/trigger', { date: '2024-03-06' }, bearer());
    expect(again.status).to.equal(409);
    expect((await body<{ error: string }>(again)).error).to.contain('already has a run for 2024-03-06');
    const badDate = await post('/api/dags/failing/trigger', { date: 'yesterday-ish' }, bearer());
    expect(badDate.status).to.equal(400);

    const preview = await post(
      `/api/runs/${encodeURIComponent(RUN)}/clear`,
      { tasks: ['echo'], downstream: true, dry_run: true },
      bearer(),
    );
    expect((await body<{ cleared: string[] }>(preview)).cleared).to.deep.equal(['echo', 'broken', 'after']);
    const cleared = await post(`/api/runs/${encodeURIComponent(RUN)}/clear`, { tasks: ['echo'], downstream: true }, bearer());
    expect(cleared.status).to.equal(200);
    expect((await body<{ cleared: string[] }>(cleared)).cleared).to.deep.equal(['echo', 'broken', 'after']);
    const rerunDone = await eventually(async () => {
      const d = await detail(RUN);
      return d.state === 'failed' && !d.executing && d.tasks.find((t) => t.task_id === 'broken')!.tries.length === 2
        ? d
        : undefined;
    }, 'the cleared run to run again');
    expect(rerunDone.tasks.find((t) => t.task_id === 'echo')!.tries).to.have.length(2);

    const rerun = await post(`/api/runs/${encodeURIComponent(RUN)}/rerun`, { failed_only: true }, bearer());
    expect((await body<{ cleared: string[] }>(rerun)).cleared).to.deep.equal(['broken', 'after']);
    await eventually(async () => {
      const d = await detail(RUN);
      return d.state === 'failed' && !d.executing && d.tasks.find((t) => t.task_id === 'broken')!.tries.length === 3
        ? d
        : undefined;
    }, 'the failed tasks to rerun');

    const bogus = await post(`/api/runs/${encodeURIComponent(RUN)}/mark`, { state: 'running' }, bearer());
    expect(bogus.status).to.equal(400);
    const marked = await post(`/api/runs/${encodeURIComponent(RUN)}/mark`, { state: 'success' }, bearer());
    expect(marked.status).to.equal(200);
    expect((await body<{ state: string }>(marked)).state).to.equal('success');
  });
});
