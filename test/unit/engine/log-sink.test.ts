import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { createSinkLogger, recordWithLines, TaskLogSink } from '../../../engine/log.js';
import { SqliteStateStore } from '../../../engine/state/sqlite/index.js';
import type { LogStore, TryLogLine } from '../../../engine/state/index.js';
import { tmpDir } from '../../helpers/engine.js';

const T0 = new Date('2024-01-01T00:00:00Z');

/**
 * The real SQLite log store, whose batch writes wait until the test lets them
 * go: what the sink writes while a write is in flight can be seen.
 */
function gated(real: LogStore) {
  const batches: number[][] = [];
  let open: () => void = () => {};
  let gate = Promise.resolve();
  let failing: Error | null = null;
  const logs: LogStore = {
    append: (tryId, line) => real.append(tryId, line),
    appendMany: async (lines: TryLogLine[]) => {
      batches.push(lines.map((l) => l.tryId));
      await gate;
      if (failing) throw failing;
      await real.appendMany(lines);
    },
    list: (tryId, range) => real.list(tryId, range),
    count: (tryId) => real.count(tryId),
    recordRejections: (tryId, table, r) => real.recordRejections(tryId, table, r),
    rejections: (tryId) => real.rejections(tryId),
  };
  return {
    logs,
    batches,
    hold() {
      gate = new Promise((resolve) => (open = resolve));
    },
    release() {
      open();
      gate = Promise.resolve();
    },
    fail(err: Error | null) {
      failing = err;
    },
  };
}

describe('TaskLogSink: task log lines to the state, in batches', () => {
  let dir: string;
  let store: SqliteStateStore;
  let tries: number[];
  beforeEach(async () => {
    dir = tmpDir();
    store = new SqliteStateStore(path.join(dir, 'state.db'));
    const run = (await store.runs.create({
      dagId: 'd',
      logicalDate: T0,
      dataIntervalStart: T0,
      dataIntervalEnd: T0,
      runType: 'manual',
      conf: {},
      tasks: [
        { taskId: 'a', operator: 'Empty', maxTries: 1 },
        { taskId: 'b', operator: 'Empty', maxTries: 1 },
      ],
      now: T0,
    }))!;
    tries = [(await store.tasks.startTry(run.runId, 'a', T0)).tryId, (await store.tasks.startTry(run.runId, 'b', T0)).tryId];
  });
  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes a line at once when idle; lines logged during a write go together in the next one, in order', async () => {
    const g = gated(store.logs);
    const sink = new TaskLogSink(g.logs, null);
    const log = createSinkLogger(sink, 'info');
    const [a, b] = [log.child({ try_id: tries[0] }), log.child({ try_id: tries[1] })];
    g.hold();
    a.info({ operator: 'Empty' }, 'try started');
    expect(g.batches).to.deep.equal([[tries[0]]]); // written at once, not waiting for a timer
    b.info('b started');
    a.warn({ rows: 3 }, 'a working');
    b.info('b done');
    a.info('try succeeded');
    log.info('a console-only line without a try'); // not stored
    expect(g.batches).to.have.length(1); // the rest waits for the write in flight
    const flushed = sink.flush();
    let done = false;
    void flushed.then(() => (done = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(done).to.equal(false); // nothing is stored yet
    g.release();
    await flushed;
    expect(g.batches).to.deep.equal([[tries[0]], [tries[1], tries[0], tries[1], tries[0]]]);
    const lines = await store.logs.list(tries[0]!);
    expect(lines.map((l) => [l.level, l.msg, l.data])).to.deep.equal([
      ['info', 'try started', { operator: 'Empty' }],
      ['warn', 'a working', { rows: 3 }],
      ['info', 'try succeeded', null],
    ]);
    expect((await store.logs.list(tries[1]!)).map((l) => l.msg)).to.deep.equal(['b started', 'b done']);
  });

  it("pino's logger.flush(cb) waits until the lines logged so far are stored", async () => {
    const g = gated(store.logs);
    const sink = new TaskLogSink(g.logs, null);
    const log = createSinkLogger(sink, 'info').child({ try_id: tries[0] });
    g.hold();
    for (let i = 0; i < 5; i++) log.info(`line ${i}`);
    const flushed = new Promise<void>((resolve) => log.flush(() => resolve()));
    setTimeout(() => g.release(), 10);
    await flushed;
    expect((await store.logs.list(tries[0]!)).map((l) => l.msg)).to.deep.equal([0, 1, 2, 3, 4].map((i) => `line ${i}`));
    // Nothing pending: it resolves at once.
    await sink.flush();
    // A line logged after the flush was asked for does not make it return before the earlier lines are stored.
    g.hold();
    log.info('in flight');
    let stored = false;
    const again = sink.flush().then(() => (stored = true));
    log.info('logged after the flush');
    await new Promise((r) => setTimeout(r, 20));
    expect(stored).to.equal(false);
    g.release();
    await again;
    expect((await store.logs.list(tries[0]!)).map((l) => l.msg)).to.include('in flight');
  });

  it("a try's end takes its waiting lines, after its lines in flight are stored, and stores them with the end", async () => {
    const g = gated(store.logs);
    const sink = new TaskLogSink(g.logs, null);
    const log = createSinkLogger(sink, 'info');
    const [a, b] = [log.child({ try_id: tries[0] }), log.child({ try_id: tries[1] })];
    const t = (await store.tasks.tries((await store.runs.list())[0]!.runId, 'a'))[0]!;
    g.hold();
    a.info('try started'); // in flight
    b.info('b line');
    a.info('try succeeded'); // waiting
    let handed: string[] | undefined;
    const ended = recordWithLines(a, tries[0]!, async (lines) => {
      handed = lines.map((l) => l.msg);
      return store.tasks.endTry(t, { state: 'success', taskState: 'success', now: T0, logLines: lines });
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(handed).to.equal(undefined); // 'try started' is not stored yet: the end waits for it
    g.release();
    expect(await ended).to.deep.include({ state: 'success' });
    expect(handed).to.deep.equal(['try succeeded']);
    await sink.flush();
    expect(g.batches).to.deep.equal([[tries[0]], [tries[1]]]); // b's line went on its own; a's last line with the end
    expect((await store.logs.list(tries[0]!)).map((l) => l.msg)).to.deep.equal(['try started', 'try succeeded']);
    expect((await store.logs.list(tries[1]!)).map((l) => l.msg)).to.deep.equal(['b line']);
  });

  it('lines taken by an end that fails are written the usual way, not lost', async () => {
    const sink = new TaskLogSink(store.logs, null);
    const log = createSinkLogger(sink, 'info').child({ try_id: tries[0] });
    const g = gated(store.logs);
    const slow = new TaskLogSink(g.logs, null);
    const slowLog = createSinkLogger(slow, 'info').child({ try_id: tries[1] });
    g.hold();
    slowLog.info('first'); // in flight
    slowLog.info('last words'); // waiting
    const failed = recordWithLines(slowLog, tries[1]!, () => Promise.reject(new Error('state unreachable')));
    g.release();
    await failed.then(
      () => expect.fail('the end should fail'),
      (err: Error) => expect(err.message).to.equal('state unreachable'),
    );
    await slow.flush();
    expect((await store.logs.list(tries[1]!)).map((l) => l.msg)).to.deep.equal(['first', 'last words']);
    // A logger writing elsewhere hands nothing over: its lines are flushed before the end.
    log.info('kept');
    expect(await recordWithLines(createSinkLogger({ write: () => undefined }), 1, async (lines) => lines)).to.deep.equal([]);
    await sink.flush();
    expect((await store.logs.list(tries[0]!)).map((l) => l.msg)).to.deep.equal(['kept']);
  });

  it('a write the state refuses is said once on stderr; logging goes on and flush still resolves', async () => {
    const g = gated(store.logs);
    const sink = new TaskLogSink(g.logs, null);
    const log = createSinkLogger(sink, 'info').child({ try_id: tries[0] });
    const said: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (said.push(String(s)), true)) as typeof process.stderr.write;
    try {
      g.fail(new Error('connection refused'));
      log.info('lost 1');
      log.info('lost 2');
      await sink.flush();
      g.fail(null);
      log.info('kept');
      await sink.flush();
    } finally {
      process.stderr.write = write;
    }
    expect(said).to.have.length(1);
    expect(said[0]).to.contain(`could not store log lines of try ${tries[0]} in the state DB: connection refused`);
    expect((await store.logs.list(tries[0]!)).map((l) => l.msg)).to.deep.equal(['kept']);
  });
});
