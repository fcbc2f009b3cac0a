import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { FakeClock } from '../../../engine/run/clock.js';
import { Scheduler, dueIntervals } from '../../../engine/schedule/scheduler.js';
import { createSinkLogger, TaskLogSink } from '../../../engine/log.js';
import { loadDagSource } from '../../../engine/dag/index.js';
import { harness, noConnections, type Harness } from '../../helpers/engine.js';
import Database from 'better-sqlite3';
import { HOST } from '../../../engine/state/index.js';

const iso = (d: Date) => d.toISOString().replace('.000Z', 'Z');

describe('scheduler', () => {
  let h: Harness;
  let dagsDir: string;
  let logLines: string[];
  beforeEach(() => {
    h = harness();
    dagsDir = path.join(h.dir, 'dags');
    fs.mkdirSync(dagsDir);
    logLines = [];
  });
  afterEach(() => h.close());

  function scheduler(clock: FakeClock, opts: { once?: boolean; parallelism?: number } = {}): Scheduler {
    return new Scheduler({
      store: h.store,
      registry: h.registry,
      dagsDir,
      parallelism: opts.parallelism ?? 8,
      gracePeriodMs: 1000,
      runner: {
        store: h.store,
        registry: h.registry,
        connections: noConnections(),
        logger: createSinkLogger(new TaskLogSink(h.store.logs, null)),
        resolvePath: (p) => p,
      },
      log: createSinkLogger({ write: (l: string) => void logLines.push(l) }, 'info'),
      clock,
      once: opts.once ?? true,
    });
  }

  async function runs(dagId?: string) {
    return (await h.store.runs.list({ dagId, limit: 1000 })).map((r) => [iso(r.logicalDate), r.runType, r.state]).reverse();
  }

  describe('due intervals', () => {
    const dag = (extra: string) => loadDagSource(`dag: d\n${extra}\ntasks:\n  a: { operator: Empty }\n`, 'd.yaml', h.registry);

    it('catchup: every closed interval since start_date, then only new ones', () => {
      const d = dag('schedule: "@daily"\nstart_date: 2024-01-01\ncatchup: true');
      const now = new Date('2024-01-04T12:00:00Z');
      expect(dueIntervals(d, undefined, now).map((i) => iso(i.start))).to.deep.equal([
        '2024-01-01T00:00:00Z',
        '2024-01-02T00:00:00Z',
        '2024-01-03T00:00:00Z',
      ]);
      const latest = { logicalDate: new Date('2024-01-02T00:00:00.000Z') };
      expect(dueIntervals(d, latest, now).map((i) => iso(i.start))).to.deep.equal(['2024-01-03T00:00:00Z']);
    });

    it('no catchup: only the latest closed interval', () => {
      const d = dag('schedule: "0 * * * *"\nstart_date: 2024-01-01\ncatchup: false');
      const due = dueIntervals(d, undefined, new Date('2024-01-04T12:30:00Z'));
      expect(due.map((i) => [iso(i.start), iso(i.end)])).to.deep.equal([['2024-01-04T11:00:00Z', '2024-01-04T12:00:00Z']]);
      const latest = { logicalDate: new Date('2024-01-04T11:00:00.000Z') };
      expect(dueIntervals(d, latest, new Date('2024-01-04T12:30:00Z'))).to.deep.equal([]);
    });

    it('@once runs once at start_date; manual-only DAGs never', () => {
      const once = dag('schedule: "@once"\nstart_date: 2024-01-01');
      expect(dueIntervals(once, undefined, new Date('2023-12-31T00:00:00Z'))).to.deep.equal([]);
      expect(dueIntervals(once, undefined, new Date('2024-02-01T00:00:00Z')).map((i) => iso(i.start))).to.deep.equal([
        '2024-01-01T00:00:00Z',
      ]);
      expect(
        dueIntervals(once, { logicalDate: new Date('2024-01-01T00:00:00.000Z') }, new Date('2024-02-01T00:00:00Z')),
      ).to.deep.equal([]);
      expect(dueIntervals(dag(''), undefined, new Date())).to.deep.equal([]);
    });
  });

  it('--once creates due runs with catchup and runs them, oldest first, then exits', async () => {
    fs.writeFileSync(
      path.join(dagsDir, 'daily.yaml'),
      'dag: daily\nschedule: "@daily"\nstart_date: 2024-01-01\ncatchup: true\nmax_active_runs: 1\ntasks:\n  a: { operator: Succeed }\n  b: { operator: Succeed, upstream: [a] }\n',
    );
    fs.writeFileSync(path.join(dagsDir, 'manual.yaml'), 'dag: manual\ntasks:\n  a: { operator: Succeed }\n');
    const clock = new FakeClock('2024-01-03T06:00:00Z');
    const s = scheduler(clock);
    await s.run();
    expect(await runs()).to.deep.equal([
      ['2024-01-01T00:00:00Z', 'scheduled', 'success'],
      ['2024-01-02T00:00:00Z', 'scheduled', 'success'],
    ]);
    expect(h.probe.started).to.deep.equal(['a', 'b', 'a', 'b']);
    // Idempotent: a second pass creates nothing new.
    await scheduler(clock).run();
    expect(await runs()).to.have.length(2);
    // A day later the next interval is due.
    clock.advance(86_400_000);
    await scheduler(clock).run();
    expect((await runs()).map((r) => r[0])).to.deep.equal([
      '2024-01-01T00:00:00Z',
      '2024-01-02T00:00:00Z',
      '2024-01-03T00:00:00Z',
    ]);
  });

  it('sleeps until the next interval closes, then creates its run', async () => {
    fs.writeFileSync(
      path.join(dagsDir, 'hourly.yaml'),
      'dag: hourly\nschedule: "@hourly"\nstart_date: 2024-01-01\ntasks:\n  a: { operator: Succeed }\n',
    );
    const clock = new FakeClock('2024-01-01T10:59:59Z');
    const s = scheduler(clock, { once: false });
    const next = await await s.tick();
    expect((await runs()).map((r) => r[0])).to.deep.equal(['2024-01-01T09:00:00Z']);
    // The loop would sleep until 11:00, one second away.
    expect(next - clock.now().getTime()).to.equal(1000);
    await s.whenIdle();
    clock.advance(1000);
    await s.tick();
    await s.whenIdle();
    expect(await runs()).to.deep.equal([
      ['2024-01-01T09:00:00Z', 'scheduled', 'success'],
      ['2024-01-01T10:00:00Z', 'scheduled', 'success'],
    ]);
  });

  it('respects max_active_runs and pauses', async () => {
    fs.writeFileSync(
      path.join(dagsDir, 'd.yaml'),
      'dag: d\nschedule: "@daily"\nstart_date: 2024-01-01\ncatchup: true\nmax_active_runs: 2\ntasks:\n  a: { operator: Succeed }\n',
    );
    const clock = new FakeClock('2024-01-05T00:00:00Z');
    await h.store.scheduler.setPaused('d', true, clock.now());
    await scheduler(clock).run();
    expect(await runs()).to.deep.equal([]);
    await h.store.scheduler.setPaused('d', false, clock.now());
    const s = scheduler(clock, { once: false });
    await s.tick();
    const states = (await h.store.runs.list({ dagId: 'd' })).map((r) => r.state);
    expect(states.filter((x) => x === 'running')).to.have.length(2);
    expect(states.filter((x) => x === 'queued')).to.have.length(2);
    await s.whenIdle();
  });

  it('keeps the last good version of a DAG whose file breaks, and other DAGs are not affected', async () => {
    const file = path.join(dagsDir, 'd.yaml');
    fs.writeFileSync(file, 'dag: d\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  a: { operator: Succeed }\n');
    fs.writeFileSync(
      path.join(dagsDir, 'other.yaml'),
      'dag: other\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  a: { operator: Succeed }\n',
    );
    const clock = new FakeClock('2024-01-02T01:00:00Z');
    const s = scheduler(clock, { once: false });
    await s.tick();
    fs.writeFileSync(file, 'dag: d\nschedule: "@daily"\nstart_date: 2024-01-01\ntasks:\n  a: { operator: Nope }\n');
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(file, later, later);
    clock.advance(86_400_000);
    await s.tick();
    const log = logLines.join('\n');
    expect(log).to.contain('broken DAG file');
    expect(log).to.contain("unknown operator 'Nope'");
    expect(log).to.contain('its last good version keeps running');
    expect((await runs('d')).map((r) => r[0])).to.deep.equal(['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z']);
    expect((await runs('other')).map((r) => r[0])).to.deep.equal(['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z']);
    await s.whenIdle();
  });

  it('one scheduler per state DB: a second is refused; a dead holder is taken over', async () => {
    const clock = new FakeClock('2024-01-01T00:00:00Z');
    // Another live process (our parent) holds the lock.
    // written as that process would, through its own connection to the state DB file
    const other = new Database(path.join(h.dir, 'state.db'));
    other
      .prepare('INSERT INTO scheduler_lock (id, host, pid, started_at, heartbeat_at) VALUES (1, ?, ?, ?, ?)')
      .run(HOST, process.ppid, clock.now().toISOString(), clock.now().toISOString());
    let err: unknown;
    await scheduler(clock)
      .run()
      .catch((e) => (err = e));
    expect(String(err)).to.contain(`another scheduler is running on this state DB: pid ${process.ppid} on ${HOST}`);
    // A holder whose process is gone: its lock is stale and taken over, and released at the end.
    other.prepare('UPDATE scheduler_lock SET pid = 999999').run();
    other.close();
    await scheduler(clock).run();
    expect(await h.store.scheduler.schedulers()).to.deep.equal([]);
  });
});
