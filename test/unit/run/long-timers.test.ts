import { expect } from 'chai';
import { MAX_TIMER_MS, setLongTimeout, systemClock } from '../../../engine/run/clock.js';
import { MAX_DURATION_MS, parseDuration } from '../../../engine/duration.js';

const THIRTY_DAYS = 30 * 86_400_000;

/** Node timers hold at most 2^31 - 1 ms; longer waits are chained. */
describe('long timers', () => {
  it('MAX_TIMER_MS is the largest delay a Node timer holds', () => {
    expect(MAX_TIMER_MS).to.equal(2 ** 31 - 1);
  });

  it('systemClock.sleep(30d) neither resolves early nor warns; an abort ends it', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const stop = new AbortController();
      let done = false;
      const sleeping = systemClock.sleep(THIRTY_DAYS, stop.signal).then(() => (done = true));
      await new Promise((r) => setTimeout(r, 100));
      expect(done, 'a 30-day sleep resolved after 100 ms').to.equal(false);
      stop.abort();
      await sleeping;
      expect(done).to.equal(true);
      expect(warnings).to.not.include('TimeoutOverflowWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('setLongTimeout chains timers: a delay longer than one segment fires once, after the whole delay', async () => {
    const started = Date.now();
    const fired: number[] = [];
    await new Promise<void>((resolve) => {
      setLongTimeout(
        () => {
          fired.push(Date.now() - started);
          resolve();
        },
        120,
        25,
      );
    });
    await new Promise((r) => setTimeout(r, 60));
    expect(fired).to.have.length(1);
    expect(fired[0]).to.be.at.least(119);
  });

  it('setLongTimeout can be cleared in any segment', async () => {
    let fired = false;
    const t = setLongTimeout(() => (fired = true), 80, 20);
    await new Promise((r) => setTimeout(r, 50));
    t.clear();
    await new Promise((r) => setTimeout(r, 80));
    expect(fired).to.equal(false);
  });

  it('parseDuration accepts 30d and refuses what a date cannot hold', () => {
    expect(parseDuration('30d')).to.equal(THIRTY_DAYS);
    expect(parseDuration(`${MAX_DURATION_MS / 1000}`)).to.equal(MAX_DURATION_MS);
    expect(() => parseDuration('99999999999d')).to.throw(/invalid duration '99999999999d': longer than .*null/);
    expect(() => parseDuration(`${'9'.repeat(400)}s`)).to.throw(/invalid duration/);
    expect(() => parseDuration(1e300)).to.throw(/invalid duration/);
  });
});
