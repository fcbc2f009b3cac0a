/**
 * Failures a retry cannot fix fail at once: bad JSON in
 * the lake under songplays-like default_args (retries: 3) is one try, not
 * four tries minutes apart; the summary says it was not retried and why.
 * Through the real CLI, on an in-memory PGlite warehouse.
 */
import { expect } from 'chai';
import { Project } from '../helpers/cli.js';

interface TryJson {
  task_id: string;
  try_number: number;
  state: string;
  error: string | null;
}

const DAG = `dag: badjson
start_date: 2024-01-01
schedule: "@daily"
default_args:
  retries: 3
  retry_delay: 2s
tasks:
  create:
    operator: Sql
    sql: CREATE TABLE IF NOT EXISTS staging_events (artist text, ts bigint)
  stage:
    operator: StageToRedshift
    upstream: [create]
    table: staging_events
    source: events/
`;

describe('e2e: failures retrying cannot fix are not retried', function () {
  it('bad JSON in the lake with retries: 3 fails at once: one try, "not retried (bad input data)" in the summary', function () {
    const p = new Project();
    try {
      p.write('dags/badjson.yaml', DAG);
      p.write('lake/events/2024-01-01.json', '{"artist": "a", "ts": 1}\n{"artist": "b", "ts": }\n');
      const r = p.run(['badjson', '--date', '2024-01-01'], {
        bin: 'run-dag',
        env: { SLUICE_CONN_WAREHOUSE: 'pglite://memory', SLUICE_CONN_LAKE: `${p.dir}/lake` },
      });
      expect(r.code, r.stdout + r.stderr).to.equal(1);
      expect(r.stdout).to.not.include('up_for_retry');
      expect(r.stdout).to.match(/stage\s+failed\s+1\s+\S+\s+not retried \(bad input data: a retry reads the same data\): /);
      expect(r.stdout).to.include('2024-01-01.json line 2');

      const list = p.run(['tasks', 'list', 'badjson__manual__2024-01-01T00:00:00Z', '--json']);
      const { tries } = JSON.parse(list.stdout) as { tries: TryJson[] };
      expect(tries.filter((t) => t.task_id === 'stage').map((t) => t.state)).to.deep.equal(['failed']);

      const log = p.run(['logs', 'badjson__manual__2024-01-01T00:00:00Z', 'stage']);
      expect(log.stdout).to.match(
        /try failed; not retried: bad input data: a retry reads the same data \(3 retries left unused\)/,
      );
    } finally {
      p.remove();
    }
  });
});
