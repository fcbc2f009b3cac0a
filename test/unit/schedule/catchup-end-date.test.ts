import { expect } from 'chai';
import type { Dag } from '../../../engine/interfaces.js';
import { dueIntervals } from '../../../engine/schedule/scheduler.js';

const d = (s: string) => new Date(s);

function dag(more: Partial<Dag>): Dag {
  return {
    schedule: '@daily',
    timezone: 'UTC',
    startDate: d('2024-01-01T00:00:00Z'),
    endDate: null,
    catchup: false,
    ...more,
  } as Dag;
}

/**
 * Airflow's CronDataIntervalTimetable.next_dagrun_info with catchup=False takes
 * start = _skip_to_latest(earliest) (the latest complete interval) and returns None when
 * start > restriction.latest (end_date): a DAG whose end_date has passed gets no run.
 */
describe('catchup: false and end_date', () => {
  it('an end_date already past: no interval is due (Airflow returns None)', () => {
    expect(dueIntervals(dag({ endDate: d('2024-01-10T00:00:00Z') }), undefined, d('2024-02-01T12:00:00Z'))).to.deep.equal([]);
  });

  it('the latest complete interval still starts at or before end_date: it is due', () => {
    const due = dueIntervals(dag({ endDate: d('2024-01-10T00:00:00Z') }), undefined, d('2024-01-11T12:00:00Z'));
    expect(due.map((i) => i.start.toISOString())).to.deep.equal(['2024-01-10T00:00:00.000Z']);
  });

  it('an end_date ahead: the latest complete interval is due', () => {
    const due = dueIntervals(dag({ endDate: d('2024-03-01T00:00:00Z') }), undefined, d('2024-02-01T12:00:00Z'));
    expect(due.map((i) => i.start.toISOString())).to.deep.equal(['2024-01-31T00:00:00.000Z']);
  });
});
