import { expect } from 'chai';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** Scheduling as Apache Airflow does it. */
describe('Airflow scheduling semantics (spawned processes)', function () {
  this.timeout(120_000);
  let p: Project;
  beforeEach(() => {
    p = new Project();
  });
  afterEach(() => p.remove());

  // Airflow's CronDataIntervalTimetable.next_dagrun_info with catchup=False starts from
  // _skip_to_latest(): the latest complete interval. When that start is after end_date
  // (restriction.latest) it returns None: no run is created at all.
  it('catchup: false with an end_date already past creates no run (Airflow: next_dagrun_info returns None)', () => {
    const dag = (id: string, end: string) => `dag: ${id}
schedule: "@daily"
start_date: ${day(-10)}
end_date: ${end}
catchup: false
tasks:
  only: { operator: Succeed }
`;
    p.write('dags/ended.yaml', dag('ended', day(-5)));
    // The control: end_date ahead, so the latest complete interval is due.
    p.write('dags/running.yaml', dag('running', day(5)));
    const r = p.run(['scheduler', '--once']);
    expect(r.code, r.stderr).to.equal(0);
    const s = new Database(path.join(p.dir, '.sluice', 'state.db'), {
      readonly: true,
    });
    const runs = s.prepare('SELECT dag_id, logical_date FROM dag_runs ORDER BY dag_id').all() as {
      dag_id: string;
      logical_date: string;
    }[];
    s.close();
    expect(runs.map((x) => x.dag_id)).to.deep.equal(['running']);
    expect(runs[0]!.logical_date.slice(0, 10)).to.equal(day(-1));
  });

  // Airflow (CronMixin._get_next for a fixed-time cron) resolves the naive croniter time with
  // airflow.utils.timezone.make_aware, which sets fold=1: on a fall-back day a wall time that
  // occurs twice is the SECOND occurrence. 01:30 in America/New_York on 2024-11-03 happens at
  // 05:30Z (EDT) and again at 06:30Z (EST); Airflow's run is at 06:30Z.
  it('backfill: a daily 01:30 America/New_York run on the fall-back day is at the second 01:30 (06:30Z, fold=1)', () => {
    p.write(
      'dags/ny.yaml',
      `dag: ny
schedule: "30 1 * * *"
timezone: America/New_York
start_date: 2024-10-01
tasks:
  only: { operator: Succeed }
`,
    );
    const r = p.run(['backfill', 'ny', '--from', '2024-11-02', '--to', '2024-11-05', '--dry-run', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const rows = JSON.parse(r.stdout) as {
      logical_date: string;
      data_interval: [string, string];
    }[];
    expect(rows.map((x) => x.data_interval)).to.deep.equal([
      ['2024-11-02T05:30:00Z', '2024-11-03T06:30:00Z'], // 25 h: ends at 01:30 EST
      ['2024-11-03T06:30:00Z', '2024-11-04T06:30:00Z'], // starts at the second 01:30
      ['2024-11-04T06:30:00Z', '2024-11-05T06:30:00Z'],
    ]);
  });
});
