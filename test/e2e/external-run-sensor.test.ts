/**
 * A cross-DAG dependency through the real scheduler: `sluice scheduler --once`
 * runs two DAGs' daily runs side by side; the consumer's ExternalRunSensor
 * waits while the producer's task is still running, then succeeds, and its
 * downstream task reads the state it saw in a template.
 */
import path from 'node:path';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

const PRODUCER = `
dag: producer
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
tasks:
  make:
    operator: Shell
    command: "sleep 1 && echo made {{ ds }}"
`;

const CONSUMER = `
dag: consumer
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
tasks:
  wait:
    operator: ExternalRunSensor
    external_dag_id: producer
    external_task_id: make
    failed_states: [failed, upstream_failed]
    poke_interval: 200ms
    timeout: 5m
  use:
    operator: Shell
    upstream: [wait]
    command: "echo producer {{ outputs.wait.state }} for {{ outputs.wait.external_logical_date }}"
`;

type Row = Record<string, unknown>;

describe('ExternalRunSensor through the scheduler', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
    p.write('dags/producer.yaml', PRODUCER);
    p.write('dags/consumer.yaml', CONSUMER);
  });
  afterEach(() => p.remove());

  it('scheduler --once: the consumer waits for the producer of the same logical date, then runs', () => {
    const r = p.run(['scheduler', '--once']);
    expect(r.code, r.stderr).to.equal(0);

    const db = new Database(path.join(p.dir, '.sluice', 'state.db'), { readonly: true });
    try {
      const runs = db.prepare('SELECT dag_id, logical_date, state FROM dag_runs ORDER BY dag_id').all() as Row[];
      expect(runs.map((x) => [x.dag_id, String(x.logical_date).slice(0, 10), x.state])).to.deep.equal([
        ['consumer', '2024-01-01', 'success'],
        ['producer', '2024-01-01', 'success'],
      ]);
      const outputsOf = (task: string) =>
        JSON.parse(
          (
            db
              .prepare(
                `SELECT o.outputs FROM task_tries t JOIN task_outputs o USING (try_id) JOIN dag_runs r USING (run_id)
                 WHERE t.task_id = ? ORDER BY t.try_id DESC LIMIT 1`,
              )
              .get(task) as Row
          ).outputs as string,
        ) as Record<string, unknown>;
      const wait = outputsOf('wait');
      expect(wait).to.include({
        external_dag_id: 'producer',
        external_task_id: 'make',
        external_logical_date: '2024-01-01T00:00:00.000Z',
        state: 'success',
      });
      // The producer's task sleeps a second: the sensor saw it not done yet at least once.
      expect(wait.poke_count).to.be.at.least(2);
      const notYet = db
        .prepare(
          `SELECT l.msg FROM log_lines l JOIN task_tries t USING (try_id) WHERE t.task_id = 'wait' AND l.msg LIKE '%: not yet%'`,
        )
        .all() as Row[];
      expect(notYet.length).to.be.at.least(1);
      expect(String(notYet[0]!.msg)).to.match(
        /^task make of DAG producer for 2024-01-01T00:00:00\.000Z to be success: not yet \(.*\); next poke in 200ms$/,
      );
      expect(outputsOf('use').return_value).to.equal('producer success for 2024-01-01T00:00:00.000Z');
    } finally {
      db.close();
    }
  });
});
