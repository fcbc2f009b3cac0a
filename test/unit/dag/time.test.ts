import { expect } from 'chai';
import { canonicalTimeZone, normalizeSchedule, parseDagDate, scheduleProblem, zonedTimeToUtc } from '../../../engine/dag/time.js';

describe('dag time helpers', () => {
  it('canonicalTimeZone knows IANA names and rejects others', () => {
    expect(canonicalTimeZone('Europe/Berlin')).to.equal('Europe/Berlin');
    expect(canonicalTimeZone('UTC')).to.equal('UTC');
    expect(canonicalTimeZone('Mars/Olympus')).to.equal(null);
  });

  describe('zonedTimeToUtc', () => {
    it('converts wall time in winter and summer', () => {
      expect(zonedTimeToUtc('Europe/Berlin', 2024, 1, 15, 12).toISOString()).to.equal('2024-01-15T11:00:00.000Z');
      expect(zonedTimeToUtc('Europe/Berlin', 2024, 7, 15, 12).toISOString()).to.equal('2024-07-15T10:00:00.000Z');
      expect(zonedTimeToUtc('America/New_York', 2024, 7, 15, 0, 0, 0, 250).toISOString()).to.equal('2024-07-15T04:00:00.250Z');
    });

    it('moves a time skipped by spring-forward past the gap', () => {
      // 2024-03-31 02:30 does not exist in Berlin: it lands at 03:30 CEST.
      expect(zonedTimeToUtc('Europe/Berlin', 2024, 3, 31, 2, 30).toISOString()).to.equal('2024-03-31T01:30:00.000Z');
    });

    it('picks the first of a time repeated by fall-back', () => {
      // 2024-10-27 02:30 happens twice in Berlin: first at 00:30Z (CEST), then 01:30Z (CET).
      expect(zonedTimeToUtc('Europe/Berlin', 2024, 10, 27, 2, 30).toISOString()).to.equal('2024-10-27T00:30:00.000Z');
      expect(zonedTimeToUtc('America/New_York', 2024, 11, 3, 1, 30).toISOString()).to.equal('2024-11-03T05:30:00.000Z');
    });
  });

  describe('parseDagDate', () => {
    it('reads dates and datetimes in the timezone, or with their own offset', () => {
      expect(parseDagDate('2018-11-01', 'UTC').toISOString()).to.equal('2018-11-01T00:00:00.000Z');
      expect(parseDagDate('2018-11-01', 'Europe/Berlin').toISOString()).to.equal('2018-10-31T23:00:00.000Z');
      expect(parseDagDate('2018-11-01T06:00', 'UTC').toISOString()).to.equal('2018-11-01T06:00:00.000Z');
      expect(parseDagDate('2018-11-01 06:00:30.5', 'UTC').toISOString()).to.equal('2018-11-01T06:00:30.500Z');
      expect(parseDagDate('2018-11-01T06:00:00Z', 'Europe/Berlin').toISOString()).to.equal('2018-11-01T06:00:00.000Z');
      expect(parseDagDate('2018-11-01T06:00:00-0500', 'UTC').toISOString()).to.equal('2018-11-01T11:00:00.000Z');
      expect(parseDagDate('2018-11-01T06:00:00+05:30', 'UTC').toISOString()).to.equal('2018-11-01T00:30:00.000Z');
    });

    it('takes a Date (a YAML timestamp) as is', () => {
      const d = new Date('2018-11-01T00:00:00Z');
      expect(parseDagDate(d, 'Europe/Berlin')).to.equal(d);
    });

    it('rejects other forms and impossible dates', () => {
      expect(() => parseDagDate('11/01/2018', 'UTC')).to.throw(/invalid date '11\/01\/2018': use an ISO date/);
      expect(() => parseDagDate('2018-13-01', 'UTC')).to.throw(/no such day or time/);
      expect(() => parseDagDate('2018-11-01T25:00', 'UTC')).to.throw(/no such day or time/);
      expect(() => parseDagDate(new Date(NaN), 'UTC')).to.throw(/invalid date/);
    });
  });

  it('normalizeSchedule maps presets to cron', () => {
    expect(normalizeSchedule('@hourly')).to.equal('0 * * * *');
    expect(normalizeSchedule('@daily')).to.equal('0 0 * * *');
    expect(normalizeSchedule('@weekly')).to.equal('0 0 * * 0');
    expect(normalizeSchedule('@monthly')).to.equal('0 0 1 * *');
    expect(normalizeSchedule('@yearly')).to.equal('0 0 1 1 *');
    expect(normalizeSchedule('@once')).to.equal('@once');
    expect(normalizeSchedule(null)).to.equal(null);
    expect(normalizeSchedule('  */15   * * * * ')).to.equal('*/15 * * * *');
    expect(() => normalizeSchedule('@sometimes')).to.throw(/unknown schedule preset/);
  });

  it('scheduleProblem accepts 5-field crons and presets only', () => {
    expect(scheduleProblem('*/15 * * * *')).to.equal(null);
    expect(scheduleProblem('0 6 * * MON-FRI')).to.equal(null);
    expect(scheduleProblem('@daily')).to.equal(null);
    expect(scheduleProblem('0 0 * * * *')).to.match(/6-field crons with seconds are not supported/);
    expect(scheduleProblem('* * *')).to.match(/expected 5 fields .* got 3/);
    expect(scheduleProblem('0 25 * * *')).to.match(/^invalid cron '0 25 \* \* \*': .*hour/);
  });
});
