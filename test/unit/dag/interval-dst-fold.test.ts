import { expect } from 'chai';
import type { Scheduled } from '../../../engine/dag/interval.js';
import { dataIntervalFor, intervalsBetween, lastCompleteInterval, nextIntervals } from '../../../engine/dag/interval.js';

const d = (s: string) => new Date(s);
const iso = (iv: { start: Date; end: Date } | null | undefined) => (iv ? [iv.start.toISOString(), iv.end.toISOString()] : null);
const sched = (schedule: string, timezone: string, more: Partial<Scheduled> = {}): Scheduled => ({
  schedule,
  timezone,
  startDate: null,
  endDate: null,
  ...more,
});

/**
 * Airflow's CronDataIntervalTimetable (CronMixin._get_next/_get_prev) computes a
 * fixed-time cron (one hour and minute, e.g. `30 1 * * *`: _is_schedule_fixed() is true) with croniter
 * on naive wall-clock time and localizes the result with airflow.utils.timezone.make_aware, which
 * sets fold=1: a wall time that occurs twice on a fall-back day is its SECOND occurrence.
 */
describe('DST fall-back like Airflow (fold=1)', () => {
  const ny = sched('30 1 * * *', 'America/New_York');

  it('01:30 America/New_York on 2024-11-03 fires at 06:30Z (01:30 EST, the second 01:30), not 05:30Z', () => {
    const ivs = intervalsBetween(ny, d('2024-11-02T00:00:00Z'), d('2024-11-04T23:00:00Z'));
    expect(ivs.map(iso)).to.deep.equal([
      ['2024-11-02T05:30:00.000Z', '2024-11-03T06:30:00.000Z'],
      ['2024-11-03T06:30:00.000Z', '2024-11-04T06:30:00.000Z'],
      ['2024-11-04T06:30:00.000Z', '2024-11-05T06:30:00.000Z'],
    ]);
  });

  it('the first 01:30 (05:30Z) is not a fire time: it lies inside the 2024-11-02 interval', () => {
    expect(iso(dataIntervalFor(ny, d('2024-11-03T05:30:00Z')))).to.deep.equal([
      '2024-11-02T05:30:00.000Z',
      '2024-11-03T06:30:00.000Z',
    ]);
    expect(iso(dataIntervalFor(ny, d('2024-11-03T06:30:00Z')))).to.deep.equal([
      '2024-11-03T06:30:00.000Z',
      '2024-11-04T06:30:00.000Z',
    ]);
  });

  it('the interval of 2024-11-02 closes at 06:30Z, not 05:30Z', () => {
    expect(iso(lastCompleteInterval(ny, d('2024-11-03T06:00:00Z')))).to.deep.equal([
      '2024-11-01T05:30:00.000Z',
      '2024-11-02T05:30:00.000Z',
    ]);
    expect(iso(lastCompleteInterval(ny, d('2024-11-03T06:30:00Z')))).to.deep.equal([
      '2024-11-02T05:30:00.000Z',
      '2024-11-03T06:30:00.000Z',
    ]);
  });

  it('nextIntervals from inside the repeated hour finds the second 01:30', () => {
    expect(nextIntervals(ny, d('2024-11-03T05:45:00Z'), 1).map(iso)).to.deep.equal([
      ['2024-11-03T06:30:00.000Z', '2024-11-04T06:30:00.000Z'],
    ]);
    expect(nextIntervals(ny, d('2024-11-03T05:30:00Z'), 1).map(iso)).to.deep.equal([
      ['2024-11-03T06:30:00.000Z', '2024-11-04T06:30:00.000Z'],
    ]);
    expect(nextIntervals(ny, d('2024-11-03T06:30:00Z'), 1).map(iso)).to.deep.equal([
      ['2024-11-04T06:30:00.000Z', '2024-11-05T06:30:00.000Z'],
    ]);
  });

  it('Europe/Berlin: 02:30 on 2024-10-27 is 01:30Z (CET, the second 02:30)', () => {
    const berlin = sched('30 2 * * *', 'Europe/Berlin');
    expect(intervalsBetween(berlin, d('2024-10-26T12:00:00Z'), d('2024-10-27T12:00:00Z')).map(iso)).to.deep.equal([
      ['2024-10-27T01:30:00.000Z', '2024-10-28T01:30:00.000Z'],
    ]);
  });

  it('weekly and monthly fixed-time crons on the fall-back day use the second occurrence too', () => {
    const weekly = sched('30 1 * * 0', 'America/New_York'); // 2024-11-03 is a Sunday
    expect(
      intervalsBetween(weekly, d('2024-11-01T00:00:00Z'), d('2024-11-05T00:00:00Z')).map((i) => i.start.toISOString()),
    ).to.deep.equal(['2024-11-03T06:30:00.000Z']);
    const monthly = sched('30 1 3 * *', 'America/New_York');
    expect(intervalsBetween(monthly, d('2024-10-01T00:00:00Z'), d('2024-11-30T00:00:00Z')).map(iso)).to.deep.equal([
      ['2024-10-03T05:30:00.000Z', '2024-11-03T06:30:00.000Z'],
      ['2024-11-03T06:30:00.000Z', '2024-12-03T06:30:00.000Z'],
    ]);
  });

  it('schedules that are not fixed-time (hourly) still fire at every real hour, as Airflow does', () => {
    const hourly = sched('30 * * * *', 'America/New_York');
    expect(
      intervalsBetween(hourly, d('2024-11-03T04:00:00Z'), d('2024-11-03T07:00:00Z')).map((i) => i.start.toISOString()),
    ).to.deep.equal([
      '2024-11-03T04:30:00.000Z', // 00:30 EDT
      '2024-11-03T05:30:00.000Z', // 01:30 EDT
      '2024-11-03T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('days without a DST change are unchanged', () => {
    expect(intervalsBetween(ny, d('2024-07-01T00:00:00Z'), d('2024-07-02T12:00:00Z')).map(iso)).to.deep.equal([
      ['2024-07-01T05:30:00.000Z', '2024-07-02T05:30:00.000Z'],
      ['2024-07-02T05:30:00.000Z', '2024-07-03T05:30:00.000Z'],
    ]);
  });
});
