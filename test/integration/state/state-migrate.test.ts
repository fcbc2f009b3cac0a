/**
 * `sluice state migrate`: a SQLite history made by real runs (retries, log
 * lines, outputs, quality history), plus rejected lines, recorded
 * connections and a paused DAG, copied to PostgreSQL by the real CLI and read
 * back through both stores' interfaces: every record equal, ids kept. A
 * second migrate into the same state is refused, changing nothing.
 */
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { PostgresStateStore } from '../../../engine/state/postgres/index.js';
import { SqliteStateStore } from '../../../engine/state/sqlite/index.js';
import type { StateStore } from '../../../engine/state/index.js';
import { Project } from '../../helpers/cli.js';
import { usePostgres } from '../../helpers/postgres.js';

const CHECKS = JSON.stringify({
  table: 't',
  rows: 5,
  checks: [{ name: 't_rows', type: 'row_count', table: 't', status: 'pass', observed: 5, expected: { min: 1 } }],
});

const DAG = `
dag: m
schedule: "@daily"
start_date: 2024-01-01
tasks:
  load:
    operator: Shell
    retries: 1
    retry_delay: 0s
    output: json
    command: >-
      if [ "$SLUICE_TRY_NUMBER" = 1 ]; then echo first try fails >&2; exit 3; fi; echo '${CHECKS}'
  after: { operator: Empty, upstream: [load] }
`;

/** Everything the interfaces tell about a history. */
async function dump(s: StateStore): Promise<unknown> {
  const runs = await s.runs.list({ limit: 10_000 });
  const out: unknown[] = [];
  for (const r of runs) {
    const tries = await s.tasks.tries(r.runId);
    const perTry = [];
    for (const t of tries) {
      perTry.push({
        t,
        logs: await s.logs.list(t.tryId),
        rejections: await s.logs.rejections(t.tryId),
        outputs: await s.tasks.outputs(t.tryId),
      });
    }
    out.push({
      r,
      tis: await s.tasks.list(r.runId),
      perTry,
      latest: [...(await s.tasks.latestOutputs(r.runId))],
      checks: await s.quality.forRun(r.runId),
    });
  }
  return {
    out,
    connections: await s.connections.list(),
    paused: [...(await s.scheduler.pausedDags())].sort(),
    history: await s.quality.checkHistory('m', { last: 10 }),
    counts: await s.quality.tableCounts('m', 't', { last: 10 }),
  };
}

describe('sluice state migrate: a SQLite history to PostgreSQL', function () {
  this.timeout(180_000);
  const server = usePostgres('migrate');
  let p: Project;
  let file: string;
  before(() => {
    p = new Project();
    p.write('dags/m.yaml', DAG);
    file = path.join(p.dir, '.sluice', 'state.db');
  });
  after(() => p.remove());

  it('copies every record, ids kept; the copy is refused into a state that has runs', async () => {
    for (const date of ['2024-01-01', '2024-01-02']) {
      const r = p.run(['m', '--date', date], { bin: 'run-dag' });
      expect(r.code, r.stderr).to.equal(0);
    }
    // What runs of this DAG do not make: rejected lines, a recorded connection, a paused DAG.
    const sqlite = new SqliteStateStore(file);
    const [t] = await sqlite.tasks.tries('m__manual__2024-01-01T00:00:00Z', 'load');
    await sqlite.logs.recordRejections(t!.tryId, 'staging_events', [
      { object: 'log_data/a.json', line: 3, column: 'ts', value: 'x', reason: 'not a number' },
    ]);
    await sqlite.connections.set('redshift', 'redshift://awsuser@c.example:5439/dev', {
      extra: { cluster: 'c', big: 12345678901234 },
      by: 'm.create',
      now: new Date('2024-02-01T00:00:00.123Z'),
    });
    await sqlite.scheduler.setPaused('m', true, new Date('2024-02-02T00:00:00Z'));
    const before = await dump(sqlite);
    await sqlite.close();

    const url = await server.newDatabase('target');
    const m = p.run(['state', 'migrate', '--from-sqlite', file, '--json'], { env: { SLUICE_STATE: url } });
    expect(m.code, m.stderr).to.equal(0);
    const report = JSON.parse(m.stdout) as { copied: Record<string, number> };
    expect(report.copied).to.include({ dag_runs: 2, task_instances: 4, task_tries: 6, check_results: 2, table_counts: 2 });

    const pg = await PostgresStateStore.open(url);
    try {
      const after = await dump(pg);
      expect(after).to.deep.equal(before);
      expect((before as { out: unknown[] }).out).to.have.length(2);
    } finally {
      await pg.close();
    }

    // Refused, and nothing changed: the target has runs now.
    const again = p.run(['state', 'migrate', '--from-sqlite', file], { env: { SLUICE_STATE: url } });
    expect(again.code).to.equal(2);
    expect(again.stderr).to.include('already has 2 run(s)');

    // The target goes on: a new run's tries get ids after the copied ones.
    const r = p.run(['m', '--date', '2024-01-03'], { bin: 'run-dag', env: { SLUICE_STATE: url } });
    expect(r.code, r.stderr).to.equal(0);
    const pg2 = await PostgresStateStore.open(url);
    try {
      const tries = await pg2.tasks.tries('m__manual__2024-01-03T00:00:00Z');
      expect(tries.map((x) => x.tryId)).to.deep.equal([7, 8, 9]);
    } finally {
      await pg2.close();
    }
  });

  it('export then import (another host): the same records; a cut or edited file is refused before anything is written', async () => {
    const sqlite = new SqliteStateStore(file);
    const before = await dump(sqlite);
    await sqlite.close();
    const out = path.join(p.dir, 'history.jsonl');
    const e = p.run(['state', 'export', out, '--from-sqlite', file]);
    expect(e.code, e.stderr).to.equal(0);
    expect(e.stdout).to.match(/^exported .* to .*history\.jsonl: \d+ row\(s\) in 11 tables/);
    const again = p.run(['state', 'export', out, '--from-sqlite', file]);
    expect([again.code, again.stderr]).to.deep.equal([
      2,
      `error: ${out} exists: give a new file name (nothing is overwritten)\n`,
    ]);

    const url = await server.newDatabase('imported');
    const lines = fs.readFileSync(out, 'utf8').trimEnd().split('\n');
    // Cut short: refused, nothing written.
    p.write('cut.jsonl', lines.slice(0, -1).join('\n') + '\n');
    const cut = p.run(['state', 'import', 'cut.jsonl'], { env: { SLUICE_STATE: url } });
    expect(cut.code).to.equal(2);
    expect(cut.stderr).to.match(
      /cut\.jsonl:\d+: the header says \d+ row\(s\) of \w+, the file has \d+: it is cut short or edited/,
    );
    p.write('bad.jsonl', [lines[0], lines[1], '{"table": "nope", "row": {}}'].join('\n') + '\n');
    const bad = p.run(['state', 'import', 'bad.jsonl'], { env: { SLUICE_STATE: url } });
    expect(bad.stderr).to.include('bad.jsonl:3: unknown table "nope"');
    const pg = await PostgresStateStore.open(url);
    try {
      expect(await pg.runs.list()).to.deep.equal([]);
      const i = p.run(['state', 'import', out, '--json'], { env: { SLUICE_STATE: url } });
      expect(i.code, i.stderr).to.equal(0);
      expect((JSON.parse(i.stdout) as { copied: Record<string, number> }).copied).to.include({ dag_runs: 2, task_tries: 6 });
      expect(await dump(pg)).to.deep.equal(before);
    } finally {
      await pg.close();
    }
  });

  it('needs a PostgreSQL state to copy to, and an existing file', () => {
    const none = p.run(['state', 'migrate']);
    expect(none.code).to.equal(2);
    expect(none.stderr).to.include('set state: postgres://');
  });
});
