/**
 * The Http operator and the HttpSensor against a real HTTP server on
 * 127.0.0.1: connection URL + endpoint, secret headers from environment
 * variables, JSON bodies, status checks, Retry-After, execution_timeout and
 * JSON path outputs.
 */
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import { makeTempDir } from '../../helpers/tmp.js';
import { closeRuns, oneTask, runDag, type Env } from './support.js';

const DAY = '2024-01-01T00:00:00Z';
const TOKEN = 'Bearer tok-5up3r-s3cret-value';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

describe('Http and HttpSensor', function () {
  this.timeout(60_000);
  let server: http.Server;
  let base: string;
  let env: Env;
  const seen: Seen[] = [];
  const counters = new Map<string, number>();
  let aborted = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const url = new URL(req.url!, 'http://x');
        seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() });
        const n = (counters.get(url.pathname) ?? 0) + 1;
        counters.set(url.pathname, n);
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(value));
        };
        switch (url.pathname) {
          case '/v1/reports':
            return json(200, { data: { items: [{ id: 7, day: url.searchParams.get('day') }] } });
          case '/v1/echo':
            return json(201, { method: req.method, body: body ? JSON.parse(body) : null, auth: req.headers.authorization });
          case '/v1/flaky':
            return n <= 2 ? json(503, { error: 'busy' }, { 'retry-after': '1' }) : json(200, { ok: true, tries: n });
          case '/v1/rate':
            return json(429, { error: 'slow down' }, { 'retry-after': '600' });
          case '/v1/refuse':
            return json(400, { error: 'bad request', auth: req.headers.authorization });
          case '/v1/slow':
            req.socket.once('close', () => aborted++);
            return; // never answers
          case '/v1/job':
            return n < 3 ? json(200, { status: 'running' }) : json(200, { status: 'done', result: { rows: 12 } });
          case '/v1/later':
            return n < 3 ? json(404, { error: 'not yet' }) : json(200, { ready: true });
          default:
            return json(404, { error: 'no such path' });
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const connections = createConnectionResolver(
      { warehouse: 'pglite://memory', lake: makeTempDir('sluice-lake'), api: `${base}/v1` },
      { home: makeTempDir('sluice-home') },
    );
    env = { connections, lake: '', warehouse: () => connections.warehouse(), close: () => connections.closeAll() };
    process.env.SLUICE_TEST_API_TOKEN = TOKEN;
  });
  after(async () => {
    delete process.env.SLUICE_TEST_API_TOKEN;
    closeRuns();
    await env?.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => {
    seen.length = 0;
    counters.clear();
  });

  it('GETs connection URL + endpoint with a templated query and records a JSON path of the response', async () => {
    const r = await runDag(
      env,
      oneTask(
        'Http',
        `
        http_connection: api
        endpoint: /reports
        query: { day: "{{ ds }}" }
        response_path: $.data.items[0].id`,
      ),
      DAY,
    );
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ status_code: 200, return_value: 7 });
    expect(seen.map((s) => `${s.method} ${s.url}`)).to.deep.equal(['GET /v1/reports?day=2024-01-01']);
  });

  it('POSTs a templated JSON body with a secret header read from an environment variable, never logged', async () => {
    const r = await runDag(
      env,
      oneTask(
        'Http',
        `
        base_url: "${base}/v1"
        endpoint: echo
        method: POST
        headers: { X-Run: "{{ run_id }}" }
        headers_env: { Authorization: SLUICE_TEST_API_TOKEN }
        body: { day: "{{ ds }}", tables: [users, "{{ ds_nodash }}"], n: 3 }
        expected_status: [201]
        response_path: body.tables[1]`,
      ),
      DAY,
    );
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.deep.equal({ status_code: 201, return_value: '20240101' });
    expect(seen[0]!.headers.authorization).to.equal(TOKEN);
    expect(seen[0]!.headers['content-type']).to.equal('application/json');
    expect(seen[0]!.headers['x-run']).to.match(/^t\d+__manual__2024-01-01/);
    expect(JSON.parse(seen[0]!.body)).to.deep.equal({ day: '2024-01-01', tables: ['users', '20240101'], n: 3 });
  });

  it('fails on an unexpected status with the start of the body, secrets masked, a 4xx without retrying', async () => {
    const r = await runDag(
      env,
      oneTask('Http', `http_connection: api\nendpoint: refuse\nheaders_env: { Authorization: SLUICE_TEST_API_TOKEN }`, {
        retries: 2,
      }),
      DAY,
    );
    expect(r.taskState('task')).to.equal('failed');
    expect(r.tries('task')).to.have.length(1);
    const error = r.tries('task')[0]!.error!;
    expect(error).to.match(
      /not retried \(the server refused the request \(HTTP 400\)\): GET .*\/v1\/refuse: HTTP 400 \(expected 2xx\)/,
    );
    expect(error).to.include('bad request');
    expect(error).not.to.include('5up3r');
  });

  it('waits for Retry-After on a 503 and sends the request again within the try', async () => {
    const r = await runDag(env, oneTask('Http', `http_connection: api\nendpoint: flaky\nresponse_path: tries`), DAY);
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.tries('task')).to.have.length(1);
    expect(r.outputs('task')).to.deep.equal({ status_code: 200, return_value: 3 });
    expect(seen).to.have.length(3);
    // Retry-After: 1 was honoured before each new request
    expect(seen[1]!.at - seen[0]!.at).to.be.at.least(950);
    expect(seen[2]!.at - seen[1]!.at).to.be.at.least(950);
    const lines = await r.store.logs.list(r.tries('task')[0]!.tryId);
    expect(lines.map((l) => l.msg)).to.include('HTTP 503, Retry-After 1s: sending again then (retry 1 of 3)');
  });

  it('fails when Retry-After is longer than max_retry_wait, and after max_retries', async () => {
    const r = await runDag(env, oneTask('Http', `http_connection: api\nendpoint: rate\nmax_retry_wait: 1m`), DAY);
    expect(r.tries('task')[0]!.error).to.match(/HTTP 429 with Retry-After 10m, more than max_retry_wait \(1m\)/);
    const none = await runDag(env, oneTask('Http', `http_connection: api\nendpoint: flaky\nmax_retries: 0`), DAY);
    expect(none.tries('task')[0]!.error).to.match(/HTTP 503 \(expected 2xx\)/);
  });

  it('execution_timeout aborts a request that never gets an answer', async () => {
    const yaml = [
      'dag: slow',
      'tasks:',
      '  task:',
      '    operator: Http',
      '    http_connection: api',
      '    endpoint: slow',
      '    execution_timeout: 1s',
    ].join('\n');
    const before = aborted;
    const r = await runDag(env, yaml, DAY);
    expect(r.state).to.equal('failed');
    expect(r.tries('task')[0]!.error).to.match(/execution_timeout of 1s exceeded/);
    // the abort reached the socket: the server saw the connection close
    for (let i = 0; i < 100 && aborted === before; i++) await new Promise((res) => setTimeout(res, 20));
    expect(aborted).to.equal(before + 1);
  });

  it('names a connection that is not configured, and a JSON path the response does not have', async () => {
    const r = await runDag(env, oneTask('Http', `http_connection: nope\nendpoint: x`), DAY);
    expect(r.tries('task')[0]!.error).to.match(/unknown connection 'nope': add it under connections: .*SLUICE_CONN_NOPE/);
    const p = await runDag(env, oneTask('Http', `http_connection: api\nendpoint: reports\nresponse_path: data.rows`), DAY);
    expect(p.tries('task')[0]!.error).to.match(
      /response_path data\.rows: no 'rows' at \$\.data \(there: an object with keys items\)/,
    );
  });

  it('HttpSensor pokes until the endpoint answers 2xx (a 404 is "not yet")', async () => {
    const r = await runDag(env, oneTask('HttpSensor', `http_connection: api\nendpoint: later\npoke_interval: 100ms`), DAY);
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.include({ status_code: 200, poke_count: 3 });
  });

  it('HttpSensor with response_path waits for a truthy value there and records it', async () => {
    const r = await runDag(
      env,
      oneTask('HttpSensor', `http_connection: api\nendpoint: job\nresponse_path: result.rows\npoke_interval: 100ms`),
      DAY,
    );
    expect(r.state, r.tries('task')[0]?.error ?? '').to.equal('success');
    expect(r.outputs('task')).to.include({ status_code: 200, return_value: 12, poke_count: 3 });
  });

  it('HttpSensor fails at once on a status that will not change (400)', async () => {
    const r = await runDag(env, oneTask('HttpSensor', `http_connection: api\nendpoint: refuse\npoke_interval: 100ms`), DAY);
    expect(r.taskState('task')).to.equal('failed');
    expect(r.tries('task')[0]!.error).to.match(/HTTP 400/);
    expect(seen).to.have.length(1);
  });

  it('rejects a task with both connection and base_url when the DAG loads', async () => {
    let error: unknown;
    try {
      await runDag(env, oneTask('Http', `http_connection: api\nbase_url: "${base}"`), DAY);
    } catch (err) {
      error = err;
    }
    expect(String(error)).to.match(/dag\.yaml:\d+:\d+: .*give exactly one of http_connection .* and base_url/);
  });
});
