import { expect } from 'chai';
import {
  dataIntervalFor,
  intervalsBetween,
  lastCompleteInterval,
  nextIntervals,
  type DataInterval,
  type Scheduled,
} from '../../../engine/dag/interval.js';

const d = (iso: string) => new Date(iso);
const HOUR = 3_600_000;

function sched(schedule: string | null, opts: Partial<Scheduled> = {}): Scheduled {
  return { schedule, timezone: 'UTC', startDate: null, endDate: null, ...opts };
}

/** An interval as [startISO, endISO]. */
const iso = (iv: DataInterval | null) => (iv ? [iv.start.toISOString(), iv.end.toISOString()] : null);
const hours = (iv: DataInterval) => (iv.end.getTime() - iv.start.getTime()) / HOUR;

describe('data intervals', () => {
  describe('dataIntervalFor', () => {
    const cases: [string | null, string, string, string][] = [
      ['@daily', '2018-11-21T00:00:00Z', '2018-11-21T00:00:00.000Z', '2018-11-22T00:00:00.000Z'],
      ['@daily', '2018-11-21T13:45:10.500Z', '2018-11-21T00:00:00.000Z', '2018-11-22T00:00:00.000Z'],
      ['@hourly', '2018-11-21T10:30:00Z', '2018-11-21T10:00:00.000Z', '2018-11-21T11:00:00.000Z'],
      ['@weekly', '2018-11-21T00:00:00Z', '2018-11-18T00:00:00.000Z', '2018-11-25T00:00:00.000Z'],
      ['@monthly', '2018-11-21T00:00:00Z', '2018-11-01T00:00:00.000Z', '2018-12-01T00:00:00.000Z'],
      ['@yearly', '2018-11-21T00:00:00Z', '2018-01-01T00:00:00.000Z', '2019-01-01T00:00:00.000Z'],
      ['*/15 * * * *', '2018-11-21T10:07:00Z', '2018-11-21T10:00:00.000Z', '2018-11-21T10:15:00.000Z'],
      ['*/15 * * * *', '2018-11-21T10:45:00Z', '2018-11-21T10:45:00.000Z', '2018-11-21T11:00:00.000Z'],
      ['0 6 * * MON-FRI', '2018-11-24T12:00:00Z', '2018-11-23T06:00:00.000Z', '2018-11-26T06:00:00.000Z'],
      [null, '2018-11-21T10:07:00Z', '2018-11-21T10:07:00.000Z', '2018-11-21T10:07:00.000Z'],
      ['@once', '2018-11-21T10:07:00Z', '2018-11-21T10:07:00.000Z', '2018-11-21T10:07:00.000Z'],
    ];
    for (const [schedule, date, start, end] of cases) {
      it(`${schedule ?? 'manual'} at ${date} -> [${start}, ${end})`, () => {
        expect(iso(dataIntervalFor(sched(schedule), d(date)))).to.deep.equal([start, end]);
      });
    }

    it('daily at midnight in Europe/Berlin', () => {
      const berlin = sched('@daily', { timezone: 'Europe/Berlin' });
      expect(iso(dataIntervalFor(berlin, d('2018-11-20T23:00:00Z')))).to.deep.equal([
        '2018-11-20T23:00:00.000Z',
        '2018-11-21T23:00:00.000Z',
      ]);
      // 00:00Z is 01:00 in Berlin: it belongs to the interval that began at local midnight.
      expect(iso(dataIntervalFor(berlin, d('2018-11-21T00:00:00Z')))).to.deep.equal([
        '2018-11-20T23:00:00.000Z',
        '2018-11-21T23:00:00.000Z',
      ]);
      // Summer time: midnight is 22:00Z.
      expect(iso(dataIntervalFor(berlin, d('2018-07-01T12:00:00Z')))).to.deep.equal([
        '2018-06-30T22:00:00.000Z',
        '2018-07-01T22:00:00.000Z',
      ]);
    });

    it('DST days in Europe/Berlin last 23h (spring forward) and 25h (fall back)', () => {
      const berlin = sched('@daily', { timezone: 'Europe/Berlin' });
      const spring = dataIntervalFor(berlin, d('2024-03-31T10:00:00Z'));
      expect(iso(spring)).to.deep.equal(['2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z']);
      expect(hours(spring)).to.equal(23);
      const fall = dataIntervalFor(berlin, d('2024-10-27T10:00:00Z'));
      expect(iso(fall)).to.deep.equal(['2024-10-26T22:00:00.000Z', '2024-10-27T23:00:00.000Z']);
      expect(hours(fall)).to.equal(25);
    });

    it('DST days in America/New_York last 23h and 25h', () => {
      const ny = sched('0 0 * * *', { timezone: 'America/New_York' });
      const spring = dataIntervalFor(ny, d('2024-03-10T12:00:00Z'));
      expect(iso(spring)).to.deep.equal(['2024-03-10T05:00:00.000Z', '2024-03-11T04:00:00.000Z']);
      expect(hours(spring)).to.equal(23);
      const fall = dataIntervalFor(ny, d('2024-11-03T12:00:00Z'));
      expect(iso(fall)).to.deep.equal(['2024-11-03T04:00:00.000Z', '2024-11-04T05:00:00.000Z']);
      expect(hours(fall)).to.equal(25);
    });

    it('hourly intervals stay one real hour across DST changes', () => {
      const berlin = sched('@hourly', { timezone: 'Europe/Berlin' });
      const fall = intervalsBetween(berlin, d('2024-10-26T23:00:00Z'), d('2024-10-27T03:00:00Z'));
      expect(fall).to.have.length(5);
      for (const iv of fall) expect(hours(iv)).to.equal(1);
      const spring = intervalsBetween(berlin, d('2024-03-30T23:00:00Z'), d('2024-03-31T03:00:00Z'));
      expect(spring).to.have.length(5);
      for (const iv of spring) expect(hours(iv)).to.equal(1);
    });

    it('a daily time inside the spring-forward gap runs right after the gap', () => {
      const berlin = sched('30 2 * * *', { timezone: 'Europe/Berlin' });
      const ivs = intervalsBetween(berlin, d('2024-03-30T00:00:00Z'), d('2024-04-01T12:00:00Z'));
      expect(ivs.map((iv) => iv.start.toISOString())).to.deep.equal([
        '2024-03-30T01:30:00.000Z', // 02:30 CET
        '2024-03-31T01:00:00.000Z', // 03:00 CEST: 02:30 does not exist that day
        '2024-04-01T00:30:00.000Z', // 02:30 CEST
      ]);
    });
  });

  describe('lastCompleteInterval', () => {
    const daily = sched('@daily');
    it('is the latest interval that has ended', () => {
      expect(iso(lastCompleteInterval(daily, d('2018-11-21T13:00:00Z')))).to.deep.equal([
        '2018-11-20T00:00:00.000Z',
        '2018-11-21T00:00:00.000Z',
      ]);
      expect(iso(lastCompleteInterval(daily, d('2018-11-21T00:00:00Z')))).to.deep.equal([
        '2018-11-20T00:00:00.000Z',
        '2018-11-21T00:00:00.000Z',
      ]);
      expect(iso(lastCompleteInterval(daily, d('2018-11-20T23:59:59.999Z')))).to.deep.equal([
        '2018-11-19T00:00:00.000Z',
        '2018-11-20T00:00:00.000Z',
      ]);
    });

    it('is null before the first interval after start_date has ended', () => {
      expect(lastCompleteInterval(sched('@daily', { startDate: d('2018-11-21T00:00:00Z') }), d('2018-11-21T13:00:00Z'))).to.equal(
        null,
      );
      // start_date not on a fire time: the first logical date is the next fire time (11-21).
      expect(lastCompleteInterval(sched('@daily', { startDate: d('2018-11-20T06:00:00Z') }), d('2018-11-21T13:00:00Z'))).to.equal(
        null,
      );
      expect(
        iso(lastCompleteInterval(sched('@daily', { startDate: d('2018-11-20T00:00:00Z') }), d('2018-11-21T13:00:00Z'))),
      ).to.deep.equal(['2018-11-20T00:00:00.000Z', '2018-11-21T00:00:00.000Z']);
    });

    it('stops at end_date', () => {
      const ended = sched('@daily', { endDate: d('2018-11-10T12:00:00Z') });
      expect(iso(lastCompleteInterval(ended, d('2018-11-21T13:00:00Z')))).to.deep.equal([
        '2018-11-10T00:00:00.000Z',
        '2018-11-11T00:00:00.000Z',
      ]);
    });

    it('@once: the start_date once it has passed; manual-only: none', () => {
      const once = sched('@once', { startDate: d('2018-11-01T00:00:00Z') });
      expect(iso(lastCompleteInterval(once, d('2018-11-02T00:00:00Z')))).to.deep.equal([
        '2018-11-01T00:00:00.000Z',
        '2018-11-01T00:00:00.000Z',
      ]);
      expect(lastCompleteInterval(once, d('2018-10-31T00:00:00Z'))).to.equal(null);
      expect(lastCompleteInterval(sched('@once'), d('2018-10-31T00:00:00Z'))).to.equal(null);
      expect(lastCompleteInterval(sched(null), d('2018-11-02T00:00:00Z'))).to.equal(null);
    });

    it('in a timezone', () => {
      const berlin = sched('@daily', { timezone: 'Europe/Berlin' });
      expect(iso(lastCompleteInterval(berlin, d('2018-11-21T22:59:00Z')))).to.deep.equal([
        '2018-11-19T23:00:00.000Z',
        '2018-11-20T23:00:00.000Z',
      ]);
      expect(iso(lastCompleteInterval(berlin, d('2018-11-21T23:00:00Z')))).to.deep.equal([
        '2018-11-20T23:00:00.000Z',
        '2018-11-21T23:00:00.000Z',
      ]);
    });
  });

  describe('intervalsBetween', () => {
    it('includes intervals starting on both bounds', () => {
      const ivs = intervalsBetween(sched('@daily'), d('2018-11-01T00:00:00Z'), d('2018-11-03T00:00:00Z'));
      expect(ivs.map(iso)).to.deep.equal([
        ['2018-11-01T00:00:00.000Z', '2018-11-02T00:00:00.000Z'],
        ['2018-11-02T00:00:00.000Z', '2018-11-03T00:00:00.000Z'],
        ['2018-11-03T00:00:00.000Z', '2018-11-04T00:00:00.000Z'],
      ]);
    });

    it('takes only starts inside the range', () => {
      const ivs = intervalsBetween(sched('@daily'), d('2018-11-01T12:00:00Z'), d('2018-11-03T12:00:00Z'));
      expect(ivs.map((iv) => iv.start.toISOString())).to.deep.equal(['2018-11-02T00:00:00.000Z', '2018-11-03T00:00:00.000Z']);
    });

    it('a custom cron', () => {
      const ivs = intervalsBetween(sched('*/15 * * * *'), d('2018-11-01T10:00:00Z'), d('2018-11-01T11:00:00Z'));
      expect(ivs.map((iv) => iv.start.toISOString().slice(11, 16))).to.deep.equal(['10:00', '10:15', '10:30', '10:45', '11:00']);
      expect(ivs.every((iv) => iv.end.getTime() - iv.start.getTime() === 15 * 60_000)).to.equal(true);
    });

    it('respects start_date and end_date', () => {
      const bounded = sched('@daily', { startDate: d('2018-11-02T00:00:00Z'), endDate: d('2018-11-04T00:00:00Z') });
      const ivs = intervalsBetween(bounded, d('2018-11-01T00:00:00Z'), d('2018-11-30T00:00:00Z'));
      expect(ivs.map((iv) => iv.start.toISOString().slice(0, 10))).to.deep.equal(['2018-11-02', '2018-11-03', '2018-11-04']);
    });

    it('a whole month of hourly runs', () => {
      expect(intervalsBetween(sched('@hourly'), d('2018-11-01T00:00:00Z'), d('2018-11-30T23:00:00Z'))).to.have.length(720);
    });

    it('@once and manual-only DAGs', () => {
      const once = sched('@once', { startDate: d('2018-11-05T00:00:00Z') });
      expect(intervalsBetween(once, d('2018-11-01T00:00:00Z'), d('2018-11-30T00:00:00Z')).map(iso)).to.deep.equal([
        ['2018-11-05T00:00:00.000Z', '2018-11-05T00:00:00.000Z'],
      ]);
      expect(intervalsBetween(once, d('2018-11-06T00:00:00Z'), d('2018-11-30T00:00:00Z'))).to.deep.equal([]);
      expect(intervalsBetween(sched(null), d('2018-11-01T00:00:00Z'), d('2018-11-30T00:00:00Z'))).to.deep.equal([]);
    });

    it('refuses an absurd number of intervals', () => {
      expect(() => intervalsBetween(sched('* * * * *'), d('2018-01-01T00:00:00Z'), d('2018-01-02T00:00:00Z'), 100)).to.throw(
        /more than 100 intervals .*narrow the date range/,
      );
      expect(intervalsBetween(sched('* * * * *'), d('2018-01-01T00:00:00Z'), d('2018-01-01T01:39:00Z'), 100)).to.have.length(100);
    });

    it('an empty range', () => {
      expect(intervalsBetween(sched('@daily'), d('2018-11-03T00:00:00Z'), d('2018-11-01T00:00:00Z'))).to.deep.equal([]);
    });
  });

  describe('nextIntervals', () => {
    it('the next n intervals starting strictly after a date', () => {
      const hourly = sched('@hourly');
      expect(nextIntervals(hourly, d('2018-11-01T10:00:00Z'), 3).map((iv) => iv.start.toISOString().slice(11, 16))).to.deep.equal(
        ['11:00', '12:00', '13:00'],
      );
      expect(nextIntervals(hourly, d('2018-11-01T10:30:00Z'), 1).map(iso)).to.deep.equal([
        ['2018-11-01T11:00:00.000Z', '2018-11-01T12:00:00.000Z'],
      ]);
      expect(nextIntervals(hourly, d('2018-11-01T10:00:00Z'), 0)).to.deep.equal([]);
    });

    it('starts at the first fire time on or after a future start_date and stops at end_date', () => {
      const bounded = sched('@daily', { startDate: d('2018-11-05T00:00:00Z'), endDate: d('2018-11-06T00:00:00Z') });
      expect(nextIntervals(bounded, d('2018-11-01T00:00:00Z'), 5).map((iv) => iv.start.toISOString().slice(0, 10))).to.deep.equal(
        ['2018-11-05', '2018-11-06'],
      );
    });

    it('in Europe/Berlin across the fall-back day', () => {
      const berlin = sched('@daily', { timezone: 'Europe/Berlin' });
      const ivs = nextIntervals(berlin, d('2024-10-24T22:00:00Z'), 3); // after midnight of Oct 25
      expect(ivs.map(hours)).to.deep.equal([24, 25, 24]);
    });

    it('@once and manual-only DAGs', () => {
      const once = sched('@once', { startDate: d('2018-11-05T00:00:00Z') });
      expect(nextIntervals(once, d('2018-11-01T00:00:00Z'), 3)).to.have.length(1);
      expect(nextIntervals(once, d('2018-11-05T00:00:00Z'), 3)).to.deep.equal([]);
      expect(nextIntervals(sched(null), d('2018-11-01T00:00:00Z'), 3)).to.deep.equal([]);
    });
  });
});
