import { expect } from 'chai';
import { formatDuration, parseDuration } from '../../../engine/duration.js';

describe('duration', () => {
  describe('parseDuration', () => {
    const cases: [string | number, number][] = [
      ['500ms', 500],
      ['90s', 90_000],
      ['5m', 300_000],
      ['1h30m', 5_400_000],
      ['1h 30m', 5_400_000],
      ['2d', 172_800_000],
      ['1w', 604_800_000],
      ['1.5h', 5_400_000],
      ['1m30s500ms', 90_500],
      [' 5m ', 300_000],
      ['90', 90_000],
      [90, 90_000],
      [0.5, 500],
      [0, 0],
    ];
    for (const [input, ms] of cases) {
      it(`${JSON.stringify(input)} -> ${ms} ms`, () => expect(parseDuration(input)).to.equal(ms));
    }

    for (const bad of ['5x', '', 'm', '5 minutes', '-5m', '1h30', 'h1', '5m!']) {
      it(`rejects ${JSON.stringify(bad)} naming the accepted forms`, () => {
        expect(() => parseDuration(bad)).to.throw(/invalid duration .*number of seconds.*500ms, 90s, 5m, 1h30m/);
      });
    }

    it('rejects negative and non-finite numbers', () => {
      expect(() => parseDuration(-1)).to.throw(/invalid duration -1/);
      expect(() => parseDuration(Infinity)).to.throw(/invalid duration/);
    });
  });

  describe('formatDuration', () => {
    const cases: [number, string][] = [
      [12, '12ms'],
      [0, '0ms'],
      [4200, '4.2s'],
      [5000, '5s'],
      [65_000, '1m5s'],
      [5_400_000, '1h30m'],
      [3_600_000, '1h'],
      [183_600_000, '2d3h'],
      [-1500, '-1.5s'],
    ];
    for (const [ms, text] of cases) it(`${ms} -> ${text}`, () => expect(formatDuration(ms)).to.equal(text));

    it('round-trips through parseDuration', () => {
      for (const ms of [500, 90_000, 5_400_000, 172_800_000]) expect(parseDuration(formatDuration(ms))).to.equal(ms);
    });
  });
});
