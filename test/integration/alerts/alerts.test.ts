/**
 * Alerts declared in DAG files (on_failure, on_retry, on_success,
 * on_dq_warning), sent by the real run loop to real endpoints on 127.0.0.1:
 * a node:http server (webhooks), an smtp-server (email) and a process
 * (command). Endpoints that hang or refuse are recorded in the try's log and
 * never change the run's outcome.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { SMTPServer } from 'smtp-server';
import { DagFileError, formatProblem } from '../../../engine/errors.js';
import type { LogLine } from '../../../engine/state/index.js';
import { freshPgliteUrl } from '../../helpers/pglite.js';
import { Project } from '../../helpers/cli.js';
import { harness, type Harness } from '../../helpers/engine.js';
import { closeRuns, makeEnv, runDag, type Env } from '../operators/support.js';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

/** A webhook endpoint: answers 200 and keeps each JSON body, or (hang) never answers. */
async function webhookServer(mode: 'ok' | 'hang' = 'ok') {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let data = '';
    req.on('data', (d: Buffer) => (data += d.toString('utf8')));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(data) as Record<string, unknown> });
      if (mode === 'ok') res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    url: (p = '/hook') => `http://127.0.0.1:${port}${p}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A port where nothing listens (connection refused). */
async function refusedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function allLogs(h: Harness, runId: string): Promise<(LogLine & { taskId: string })[]> {
  const out: (LogLine & { taskId: string })[] = [];
  for (const t of await h.store.tasks.tries(runId)) {
    for (const l of await h.store.logs.list(t.tryId)) out.push({ ...l, taskId: t.taskId });
  }
  return out;
}

const alertLines = (logs: LogLine[]) => logs.filter((l) => /alert/.test(l.msg));

describe('alerts', function () {
  this.timeout(60_000);
  const saved = { ...process.env };
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(async () => {
    await h.close();
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  });

  it('a failing task fires on_failure, a retry on_retry, a success on_success, with a Slack-compatible body', async () => {
    const hook = await webhookServer();
    try {
      process.env.TEST_ALERT_HOOK = hook.url('/services/T000/B000/XXXXsecretXXXX');
      const dag = h.dag(`
dag: alerting
default_args:
  retry_delay: 1s
  on_failure: [{ webhook: { url_env: TEST_ALERT_HOOK } }]
  on_retry: [{ webhook: { url_env: TEST_ALERT_HOOK } }]
  on_success: [{ webhook: { url_env: TEST_ALERT_HOOK } }]
on_failure: [{ webhook: { url_env: TEST_ALERT_HOOK } }]
tasks:
  flaky: { operator: Fail, times: 1, retries: 1, message: flaked }
  broken: { operator: Fail, message: "cannot reach s3://lake password=hunter22 now" }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      const bodies = hook.received.map((r) => r.body);
      const of = (event: string, task: string | null) =>
        bodies.filter((b) => b.event === event && ((b.task as { task_id: string } | null)?.task_id ?? null) === task);
      expect(of('on_retry', 'flaky')).to.have.length(1);
      expect(of('on_success', 'flaky')).to.have.length(1);
      expect(of('on_failure', 'broken')).to.have.length(1);
      expect(of('on_failure', null)).to.have.length(1); // the DAG's: the run failed
      expect(bodies).to.have.length(4);

      const failure = of('on_failure', 'broken')[0]!;
      expect(failure).to.include({
        dag_id: 'alerting',
        run_id: runId,
        state: 'failed',
        report: `sluice report alerting --run ${runId}`,
      });
      expect(failure.task).to.include({ task_id: 'broken', operator: 'Fail', try_number: 1, max_tries: 1, state: 'failed' });
      expect(failure.error).to.match(/cannot reach s3:\/\/lake password=\*\*\* now \(try 1\)/);
      expect(failure.logical_date).to.equal('2024-01-01T00:00:00.000Z');
      // Slack's incoming webhooks read `text`.
      expect(failure.text).to.be.a('string');
      expect(failure.text).to.match(
        /^\[sluice\] alerting\.broken failed \(run alerting__manual__2024-01-01T00:00:00Z, try 1 of 1\)/,
      );
      expect(failure.text).to.include(`Report: sluice report alerting --run ${runId}`);
      expect(JSON.stringify(bodies)).to.not.include('hunter22');

      const retry = of('on_retry', 'flaky')[0]!;
      expect(retry.task).to.include({ try_number: 1, max_tries: 2, state: 'up_for_retry' });
      expect((retry.task as { next_try_at: string }).next_try_at).to.match(/^2024-01-02T00:00:01/);
      const run = of('on_failure', null)[0]!;
      expect(run.failed_tasks).to.deep.equal([{ task_id: 'broken', state: 'failed', error: failure.error }]);

      // Each outcome is in the try's log, the webhook shown by host only.
      const logs = await allLogs(h, runId);
      const sent = alertLines(logs).filter((l) => /sent: HTTP 200/.test(l.msg));
      expect(sent).to.have.length(4);
      expect(sent[0]!.msg).to.match(/webhook \$TEST_ALERT_HOOK \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\)/);
      expect(JSON.stringify(logs)).to.not.include('XXXXsecretXXXX');
    } finally {
      await hook.close();
    }
  });

  it('an endpoint that hangs times out, one that refuses is recorded, and the run still succeeds', async () => {
    const hang = await webhookServer('hang');
    const good = await webhookServer();
    const refused = await refusedPort();
    try {
      const dag = h.dag(`
dag: unreachable
tasks:
  work:
    operator: Succeed
    on_success:
      - { webhook: { url: "${hang.url('/slow')}" }, timeout: 300ms, retries: 1, retry_delay: 1s }
      - { webhook: { url: "http://127.0.0.1:${refused}/gone" }, retries: 2 }
      - { webhook: { url: "${good.url('/fine')}" } }
  after: { operator: Succeed, upstream: [work] }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      expect((await h.store.runs.get(runId))!.state).to.equal('success');
      expect(hang.received).to.have.length(2); // both attempts reached it, neither was answered
      expect(good.received).to.have.length(1);

      const lines = alertLines(await allLogs(h, runId)).filter((l) => l.level === 'warn');
      const timedOut = lines.find((l) =>
        /webhook http:\/\/127\.0\.0\.1:\d+\/\*\*\* failed after 2 attempts: timed out after 300 ms/.test(l.msg),
      );
      expect(timedOut, JSON.stringify(lines)).to.not.equal(undefined);
      expect(timedOut!.msg).to.include('(the run goes on)');
      expect(timedOut!.data).to.include({ alert: 'on_success', outcome: 'failed' });
      const refusedLine = lines.find((l) => /failed after 3 attempts: fetch failed: ECONNREFUSED/.test(l.msg));
      expect(refusedLine, JSON.stringify(lines)).to.not.equal(undefined);
      // Backoff between attempts waited on the run's clock: 1 s after the hanging one's first attempt; 1 s, 2 s for the refused one.
      expect((h.clock as unknown as { sleeps: number[] }).sleeps).to.include.members([1000, 2000]);
    } finally {
      await hang.close();
      await good.close();
    }
  });

  it('sends an email through SMTP with credentials from the environment, never logging them', async () => {
    const mails: { from: string; to: string[]; raw: string; user: string; pass: string }[] = [];
    let auth = { user: '', pass: '' };
    const smtp = new SMTPServer({
      secure: false,
      disabledCommands: ['STARTTLS'],
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      onAuth(a, _session, cb) {
        auth = { user: a.username ?? '', pass: a.password ?? '' };
        if (a.password === 'S3cret-smtp-pw') cb(null, { user: a.username });
        else cb(new Error('bad credentials'));
      },
      onData(stream, session, cb) {
        let raw = '';
        stream.on('data', (d: Buffer) => (raw += d.toString('utf8')));
        stream.on('end', () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw,
            ...auth,
          });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
    const port = (smtp.server.address() as AddressInfo).port;
    try {
      process.env.TEST_SMTP_USER = 'alerts';
      process.env.TEST_SMTP_PASSWORD = 'S3cret-smtp-pw';
      const dag = h.dag(`
dag: mailing
tasks:
  load:
    operator: Fail
    on_failure:
      - email:
          to: [oncall@example.com, data@example.com]
          from: sluice@example.com
          smtp: { host: 127.0.0.1, port: ${port}, tls: none, user_env: TEST_SMTP_USER, password_env: TEST_SMTP_PASSWORD }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      expect(mails).to.have.length(1);
      const m = mails[0]!;
      // The body is quoted-printable: undo its soft line breaks and =XX escapes.
      const text = m.raw
        .replace(/=\r?\n/g, '')
        .replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
      expect(m).to.include({ from: 'sluice@example.com', user: 'alerts', pass: 'S3cret-smtp-pw' });
      expect(m.to).to.deep.equal(['oncall@example.com', 'data@example.com']);
      expect(m.raw).to.match(/^Subject: \[sluice\] mailing\.load failed \(2024-01-01\)\r?$/m);
      expect(text).to.include('[sluice] mailing.load failed (run mailing__manual__2024-01-01T00:00:00Z, try 1 of 1)');
      expect(text).to.include('Error: boom (try 1)');
      expect(text).to.include(`Report: sluice report mailing --run ${runId}`);

      const logs = await allLogs(h, runId);
      expect(
        alertLines(logs).some((l) =>
          /email to oncall@example\.com, data@example\.com via 127\.0\.0\.1:\d+ sent: accepted/.test(l.msg),
        ),
      ).to.equal(true);
      const stateFiles = ['state.db', 'state.db-wal'].map((f) => path.join(h.dir, f)).filter((f) => fs.existsSync(f));
      for (const f of stateFiles) expect(fs.readFileSync(f).includes('S3cret-smtp-pw'), f).to.equal(false);
      expect(JSON.stringify(logs)).to.not.include('S3cret-smtp-pw');
    } finally {
      await new Promise<void>((r) => smtp.close(() => r()));
    }
  });

  it('runs a command with templated arguments and the JSON body on its stdin; a missing variable is recorded', async () => {
    const out = path.join(h.dir, 'alert-{{ task_id }}.json');
    const script = "require('fs').writeFileSync(process.argv[1], require('fs').readFileSync(0))";
    const dag = h.dag(`
dag: commanding
tasks:
  work:
    operator: Succeed
    on_success:
      - command: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(script)}, ${JSON.stringify(out)}]
        report_file: "reports/{{ ds }}.html"
      - { webhook: { url_env: TEST_NOT_SET_ANYWHERE } }
      - command: [${JSON.stringify(process.execPath)}, -e, "process.exit(3)"]
        retries: 0
`);
    const { runId, state } = await h.run(dag);
    expect(state).to.equal('success');
    const body = JSON.parse(fs.readFileSync(path.join(h.dir, 'alert-work.json'), 'utf8')) as Record<string, unknown>;
    expect(body).to.include({ event: 'on_success', dag_id: 'commanding', run_id: runId, state: 'success' });
    expect(body.report).to.equal(`file://${path.join(h.dir, 'reports', '2024-01-01.html')}`);
    const lines = alertLines(await allLogs(h, runId));
    expect(
      lines.find((l) => /TEST_NOT_SET_ANYWHERE not sent: environment variable TEST_NOT_SET_ANYWHERE/.test(l.msg)),
    ).to.not.equal(undefined);
    expect(lines.find((l) => /failed after 1 attempt: .* ended with exit 3/.test(l.msg))).to.not.equal(undefined);
  });

  it('reports bad alert settings at file:line, with did-you-mean', () => {
    const yaml = `dag: bad_alerts
on_failure:
  - webhok: { url_env: X }
default_args:
  on_retry:
    - webhook: { url_env: "https://hooks.slack.com/x" }
tasks:
  a:
    operator: Empty
    on_success:
      - webhook: { url_env: HOOK }
        command: [echo]
  b:
    operator: Empty
    on_dq_warning:
      - command: [notify-send, "{{ task }}"]
      - email: { to: a@example.com, smtp: { host: h, tls: yes } }
`;
    let err: unknown;
    try {
      h.dag(yaml);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DagFileError);
    const lines = (err as DagFileError).problems.map(formatProblem);
    const file = path.join(h.dir, 'dag.yaml');
    const at = (line: number, rest: RegExp) =>
      expect(
        lines.some((l) => l.startsWith(`${file}:${line}:`) && rest.test(l)),
        lines.join('\n'),
      ).to.equal(true);
    at(3, /on_failure\[0\]\.webhok: unknown key 'webhok'; did you mean 'webhook'/);
    at(6, /default_args\.on_retry\[0\]\.webhook\.url_env: must be the NAME of an environment variable/);
    at(11, /tasks\.a\.on_success\[0\]: an alert is one of webhook, email or command, not webhook and command/);
    at(16, /tasks\.b\.on_dq_warning\[0\]\.command\[1\]: unknown template variable 'task'/);
    at(17, /tasks\.b\.on_dq_warning\[1\]\.email\.smtp\.tls: must be one of starttls, implicit, none/);
  });
});

describe('alerts: on_dq_warning from a DataQuality warn check on PGlite', function () {
  this.timeout(120_000);
  let env: Env;
  before(async () => {
    env = makeEnv((await freshPgliteUrl()).url);
    const wh = await env.warehouse();
    await wh.query(`CREATE TABLE al_users (user_id varchar(8), level varchar(8))`);
    await wh.query(`INSERT INTO al_users VALUES ('1', 'free'), ('2', 'gold')`);
  });
  after(async () => {
    closeRuns();
    await env?.close();
  });

  it('fires the task and DAG on_dq_warning with the failing check; on_success of the task as well', async () => {
    const hook = await webhookServer();
    try {
      const r = await runDag(
        env,
        `dag: dq_alerts
on_dq_warning: [{ webhook: { url: "${hook.url('/dag')}" } }]
on_success: [{ webhook: { url: "${hook.url('/dag')}" } }]
tasks:
  quality:
    operator: DataQuality
    on_dq_warning: [{ webhook: { url: "${hook.url('/task')}" } }]
    checks:
      - type: row_count
        table: al_users
      - type: accepted_values
        table: al_users
        column: level
        values: [free, paid]
        severity: warn
`,
        '2018-11-21',
      );
      expect(r.state).to.equal('success');
      const byPath = (p: string) => hook.received.filter((x) => x.path === p).map((x) => x.body);
      const task = byPath('/task');
      expect(task).to.have.length(1);
      expect(task[0]).to.include({ event: 'on_dq_warning', state: 'success' });
      expect(task[0]!.checks).to.deep.equal([
        {
          task_id: 'quality',
          name: 'accepted_values_al_users_level',
          type: 'accepted_values',
          severity: 'warn',
          observed: 1,
          expected: (task[0]!.checks as { expected: unknown }[])[0]!.expected,
          message: (task[0]!.checks as { message: unknown }[])[0]!.message,
        },
      ]);
      expect(task[0]!.text).to.match(/dq_alerts\.quality has data quality warnings/);
      expect(task[0]!.text).to.match(/Check quality\.accepted_values_al_users_level \(warn\): observed 1/);
      const dag = byPath('/dag').map((b) => b.event);
      expect(dag.sort()).to.deep.equal(['on_dq_warning', 'on_success']);
    } finally {
      await hook.close();
    }
  });
});

describe('alerts through the CLI', function () {
  this.timeout(120_000);

  it('run-dag succeeds when an alert endpoint refuses; `sluice logs` shows the outcome; validate names file:line', async () => {
    const port = await refusedPort();
    const p = new Project();
    p.write(
      'dags/cli_alerts.yaml',
      `dag: cli_alerts
tasks:
  only:
    operator: Empty
    on_success: [{ webhook: { url_env: CLI_ALERT_HOOK }, retries: 1, retry_delay: 10ms }]
`,
    );
    const env = { CLI_ALERT_HOOK: `http://127.0.0.1:${port}/hooks/cli-secret-token` };
    const run = p.run(['cli_alerts', '--date', '2024-01-01'], { bin: 'run-dag', env });
    expect(run.code, run.stderr).to.equal(0);
    const logs = p.run(['logs', 'cli_alerts__manual__2024-01-01T00:00:00Z', 'only'], { env });
    expect(logs.code, logs.stderr).to.equal(0);
    expect(logs.stdout).to.match(
      /on_success alert \(task\) webhook \$CLI_ALERT_HOOK \(http:\/\/127\.0\.0\.1:\d+\/\*\*\*\) failed after 2 attempts: fetch failed: ECONNREFUSED/,
    );
    expect(run.stdout + run.stderr + logs.stdout).to.not.include('cli-secret-token');

    p.write('dags/bad.yaml', 'dag: bad\ntasks:\n  a:\n    operator: Empty\n    on_failure: [{ slack: { url_env: X } }]\n');
    const v = p.run(['dags', 'validate']);
    expect(v.code).to.equal(2);
    expect(v.stdout + v.stderr).to.match(/bad\.yaml:5:\d+: tasks\.a\.on_failure\[0\]\.slack: unknown key 'slack'/);
  });
});
