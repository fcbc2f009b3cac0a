import { expect } from 'chai';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PLUGIN, Project } from '../helpers/cli.js';
import { eventually, startWeb, type RunningWeb } from '../helpers/web.js';
import { REPORT_DAG } from '../fixtures/report-operators.js';

const FIXTURE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'report-operators.ts');

/** The report fixture's DAG, scheduled daily (a backfill needs intervals). */
const DQ = REPORT_DAG.replace('dag: dq\n', 'dag: dq\nschedule: "@daily"\nstart_date: 2024-01-01\n');

const CHAIN = `
dag: chain
schedule: null
start_date: 2024-01-01
tasks:
  a: { operator: Succeed }
  b: { operator: Fail, upstream: [a], message: "b breaks" }
  c: { operator: Succeed, upstream: [b] }
  other: { operator: Succeed }
`;

const RUN = 'chain__manual__2024-03-05T00:00:00Z';
const runPath = (id: string) => `/runs/${encodeURIComponent(id)}`;
const body = <T>(r: Response): Promise<T> => r.json() as Promise<T>;

interface RunDetail {
  state: string;
  executing: boolean;
  note: string | null;
  tasks: { task_id: string; state: string | null }[];
  trends: { task_id: string; name: string; points: { run_id: string; status: string; observed: unknown }[] }[];
}

describe('the web UI: mark task instances, clear upstream, backfill, quality trends', function () {
  this.timeout(180_000);
  let p: Project;
  let web: RunningWeb;

  before(async () => {
    p = new Project({ SLUICE_PLUGINS: [PLUGIN, FIXTURE].join(path.delimiter) });
    p.write('dags/chain.yaml', CHAIN);
    p.write('dags/dq.yaml', DQ);
    expect(p.run(['run-dag', 'chain', '--date', '2024-03-05']).code).to.equal(1);
    for (const day of ['2024-01-01', '2024-01-02', '2024-01-03']) p.run(['run-dag', 'dq', '--date', day]);
    web = await startWeb(p);
  });
  after(async () => {
    expect(await web?.stop()).to.equal(0);
    p?.remove();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(web.url + path, { headers });
  const post = (path: string, value: unknown, auth = true) =>
    fetch(web.url + path, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${web.token!}` } : {}) },
      body: JSON.stringify(value),
    });
  const detail = async (id: string) => body<RunDetail>(await get(`/api${runPath(id)}`));
  const states = async (id: string) => Object.fromEntries((await detail(id)).tasks.map((t) => [t.task_id, t.state]));

  it('marks chosen task instances success or failed, with downstream or upstream; the run follows its tasks', async () => {
    expect(await states(RUN)).to.deep.equal({ a: 'success', b: 'failed', c: 'upstream_failed', other: 'success' });
    const api = `/api${runPath(RUN)}/mark-tasks`;
    expect((await post(api, { tasks: ['b'], state: 'success' }, false)).status).to.equal(401);
    const bad = await post(api, { tasks: ['b'], state: 'running' });
    expect(bad.status).to.equal(400);
    expect((await body<{ error: string }>(bad)).error).to.equal("task instances can be marked success or failed, not 'running'");
    const unknown = await post(api, { tasks: ['zz'], state: 'success' });
    expect(unknown.status).to.equal(400);
    expect((await body<{ error: string }>(unknown)).error).to.contain("DAG chain has no task 'zz'. Its tasks: a, b, c, other");
    expect((await post(api, { tasks: [], state: 'success' })).status).to.equal(400);

    const dry = await post(api, { tasks: ['b'], state: 'success', downstream: true, dry_run: true });
    expect(await body(dry)).to.deep.equal({ run_id: RUN, dry_run: true, tasks: ['b', 'c'] });
    expect((await detail(RUN)).state).to.equal('failed'); // a dry run changes nothing

    const marked = await post(api, { tasks: ['b'], state: 'success', downstream: true });
    expect(marked.status).to.equal(200);
    expect(await body(marked)).to.deep.include({
      state: 'success',
      marked: ['b', 'c'],
      executing_here: false,
      note: 'tasks marked success by hand',
    });
    expect(await states(RUN)).to.deep.equal({ a: 'success', b: 'success', c: 'success', other: 'success' });

    const up = await post(api, { tasks: ['c'], state: 'failed', upstream: true, dry_run: true });
    expect((await body<{ tasks: string[] }>(up)).tasks).to.deep.equal(['a', 'b', 'c']);
    const failed = await post(api, { tasks: ['other', 'c'], state: 'failed' });
    expect(await body(failed)).to.deep.include({ state: 'failed', marked: ['c', 'other'] });
    expect(await states(RUN)).to.deep.equal({ a: 'success', b: 'success', c: 'failed', other: 'failed' });
  });

  it('shows the task checkboxes and a confirmation listing what a mark touches (logged in only)', async () => {
    const confirm = `${runPath(RUN)}/mark-tasks?task=b&state=success&downstream=true`;
    expect((await get(confirm)).status).to.equal(401);
    const login = await fetch(web.url + '/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: web.url },
      body: new URLSearchParams({ token: web.token!, next: '/' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const runPage = await (await get(runPath(RUN), { cookie })).text();
    expect(runPage).to.contain('id="mark-success"').and.contain('id="mark-failed"');
    expect(runPage).to.contain('name="upstream"');
    const page = (await (await get(confirm, { cookie })).text()).replace(/\s+/g, ' ');
    expect(page).to.contain('These 2 task instance(s) will be marked success');
    expect(page).to.match(/<td>b<\/td>.*<td>c<\/td>/);
    expect(page).to.contain('id="confirm-mark"');
    const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1]!;
    const form = await fetch(web.url + `${runPath(RUN)}/mark-tasks`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: web.url, cookie },
      body: new URLSearchParams([
        ['_csrf', csrf],
        ['task', 'c'],
        ['state', 'success'],
      ]),
    });
    expect(form.status).to.equal(303);
    expect(form.headers.get('location')).to.equal(`${runPath(RUN)}?done=tasks-marked`);
    expect((await states(RUN)).c).to.equal('success');
    const bad = await get(`${runPath(RUN)}/mark-tasks?state=success`, { cookie });
    expect(bad.status).to.equal(400);
    expect(await bad.text()).to.contain('tick the tasks to mark first');
  });

  it('clears with an upstream scope: the chosen tasks and everything before them run again', async () => {
    const api = `/api${runPath(RUN)}/clear`;
    const dry = await post(api, { tasks: ['b'], upstream: true, dry_run: true });
    expect((await body<{ cleared: string[] }>(dry)).cleared).to.deep.equal(['a', 'b']);
    const both = await post(api, { tasks: ['b'], upstream: true, downstream: true, dry_run: true });
    expect((await body<{ cleared: string[] }>(both)).cleared).to.deep.equal(['a', 'b', 'c']);
    expect((await post(api, { upstream: true })).status).to.equal(400);
    const cleared = await post(api, { tasks: ['b'], upstream: true });
    expect(await body(cleared)).to.deep.include({ cleared: ['a', 'b'], executing_here: true });
    const ended = await eventually(async () => {
      const d = await detail(RUN);
      return d.state !== 'running' && d.state !== 'queued' && !d.executing ? d : undefined;
    }, 'the cleared run to run again');
    expect(ended.state).to.equal('failed'); // b fails again; c (success) and other (failed) were not cleared
    expect(Object.fromEntries(ended.tasks.map((t) => [t.task_id, t.state]))).to.deep.equal({
      a: 'success',
      b: 'failed',
      c: 'success',
      other: 'failed',
    });
  });

  it('backfills a date range from the DAG page: planned, queued and executed here one at a time', async () => {
    const api = '/api/dags/dq/backfill';
    expect((await post(api, { from: '2024-01-04', to: '2024-01-05' }, false)).status).to.equal(401);
    const dry = await post(api, { from: '2024-01-02', to: '2024-01-05', reprocess: 'none', dry_run: true });
    expect(dry.status).to.equal(200);
    const plan = await body<{ plan: { logical_date: string; action: string }[]; run_ids: string[] }>(dry);
    expect(plan.plan.map((x) => [x.logical_date.slice(0, 10), x.action])).to.deep.equal([
      ['2024-01-02', 'skip'],
      ['2024-01-03', 'skip'],
      ['2024-01-04', 'create'],
      ['2024-01-05', 'create'],
    ]);
    expect(plan.run_ids).to.deep.equal([]);
    for (const [value, message] of [
      [{ from: '2024-01-04' }, "give the backfill's to date"],
      [{ from: 'soon', to: '2024-01-05' }, "from 'soon' is not a date"],
      [{ from: '2024-01-05', to: '2024-01-04' }, 'is before --from'],
      [{ from: '2024-01-04', to: '2024-01-05', reprocess: 'all' }, "reprocess must be none, failed, completed, not 'all'"],
    ] as const) {
      const res = await post(api, value);
      expect(res.status, JSON.stringify(value)).to.equal(400);
      expect((await body<{ error: string }>(res)).error).to.contain(message);
    }
    const manual = await post('/api/dags/chain/backfill', { from: '2024-01-04', to: '2024-01-05' });
    expect((await body<{ error: string }>(manual)).error).to.equal(
      'DAG chain has no schedule, so it has no intervals to backfill',
    );

    const res = await post(api, { from: '2024-01-04', to: '2024-01-05', reprocess: 'failed' });
    expect(res.status).to.equal(202);
    const queued = await body<{ run_ids: string[]; executing_here: boolean }>(res);
    expect(queued).to.deep.equal({ ...queued, executing_here: true });
    expect(queued.run_ids).to.deep.equal(['dq__backfill__2024-01-04T00:00:00Z', 'dq__backfill__2024-01-05T00:00:00Z']);
    const ran: (RunDetail & { started_at: string; ended_at: string })[] = [];
    for (const id of queued.run_ids) {
      const d = await eventually(async () => {
        const r = await detail(id);
        return r.state === 'success' ? r : undefined;
      }, `backfill run ${id}`);
      expect(d.tasks.every((t) => t.state === 'success')).to.equal(true);
      ran.push(d as (typeof ran)[number]);
    }
    expect(Date.parse(ran[1]!.started_at)).to.be.at.least(Date.parse(ran[0]!.ended_at)); // one after the other
    // the form on the DAG page posts the same fields
    const login = await fetch(web.url + '/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: web.url },
      body: new URLSearchParams({ token: web.token!, next: '/' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const dagPage = await (await get('/dags/dq', { cookie })).text();
    expect(dagPage).to.contain('action="/dags/dq/backfill"').and.contain('name="reprocess"');
    expect(await (await get('/dags/chain', { cookie })).text()).not.to.contain('/backfill');
  });

  it('under sluice scheduler --web, a backfill is only queued and the scheduler runs it', async () => {
    const q = new Project({ SLUICE_PLUGINS: [PLUGIN, FIXTURE].join(path.delimiter) });
    q.write('dags/dq.yaml', DQ);
    const s = await startWeb(q, {}, ['scheduler', '--web', '--port', '0']);
    try {
      const res = await fetch(s.url + '/api/dags/dq/backfill', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${s.token!}` },
        body: JSON.stringify({ from: '2024-02-01', to: '2024-02-02' }),
      });
      expect(res.status).to.equal(202);
      const queued = await body<{ run_ids: string[]; executing_here: boolean }>(res);
      expect(queued.executing_here).to.equal(false);
      expect(queued.run_ids).to.have.length(2);
      for (const id of queued.run_ids) {
        await eventually(async () => {
          const r = await body<RunDetail>(await fetch(`${s.url}/api${runPath(id)}`));
          return r.state === 'success' ? r : undefined;
        }, `the scheduler to run ${id}`);
      }
    } finally {
      expect(await s.stop()).to.equal(0);
      q.remove();
    }
  });

  it('shows each check’s trend over the last runs on the run page', async () => {
    const id = 'dq__manual__2024-01-03T00:00:00Z';
    const d = await detail(id);
    const rows = d.trends.find((t) => t.name === 'songplays_in_interval')!;
    expect(rows.points.map((x) => [x.observed, x.status])).to.deep.equal([
      [100, 'pass'],
      [120, 'pass'],
      [0, 'fail'],
    ]);
    // only the runs up to this one: the backfilled 2024-01-04 and -05 come after it
    const first = await detail('dq__manual__2024-01-01T00:00:00Z');
    expect(first.trends.find((t) => t.name === 'songplays_in_interval')!.points).to.have.length(1);
    const page = await (await get(runPath(id))).text();
    expect(page).to.contain('id="trends"');
    expect(page).to.contain('<figcaption>quality: songplays_in_interval (songplays)</figcaption>');
    expect(page).to.match(/<svg class="chart"[^]*dq__manual__2024-01-02T00:00:00Z: 120 \(pass\)/);
    expect(page).to.contain('<svg class="chart strip"'); // the schema check's observed value is no number
    expect(page).not.to.contain('<svg onload'); // the odd table name stays escaped
  });
});
