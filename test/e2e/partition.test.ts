/**
 * A network partition between a worker and the PostgreSQL state. A worker
 * playing host A runs in a network namespace of its own and reaches the
 * state only through a veth pair (and a TCP forwarder in this process, since
 * the server listens on 127.0.0.1); a scheduler in workers mode and a second
 * worker (host B) run here, on the real address. While A runs try 1, the test
 * takes the pair's link down: A's packets vanish, nothing tells it the
 * connection is dead. A must stop its try before its lease ends (it cannot
 * renew it); the scheduler fails try 1 as worker lost once the lease ended,
 * and B runs try 2. Each try appends timestamped ticks to a shared file, so
 * "never two tries at once" is checked from what the tasks actually did.
 *
 * Skipped, saying why, where `ip netns` is not permitted (not root, no
 * CAP_NET_ADMIN, not Linux).
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import pg from 'pg';
import { Project } from '../helpers/cli.js';
import { forwardTcp, isolatedHost, reachableFrom, type IsolatedHost, type TcpForwarder } from '../helpers/netns.js';
import { usePostgres } from '../helpers/postgres.js';

/** Short enough to keep the test quick, long enough that a slow renewal on a busy machine is not a lost lease. */
const LEASE = '4s';

/** Try 1 ticks every ~100 ms for ~30 s (it is cut off long before); try 2 ticks 3 times and succeeds. */
const dag = (ticks: string) => `
dag: part
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
tasks:
  work:
    operator: Shell
    retries: 1
    retry_delay: 0s
    append_env: true
    command: |
      max=300; [ "$SLUICE_TRY_NUMBER" = 1 ] || max=3
      i=0
      while [ $i -lt $max ]; do
        echo "$(date +%s%N) $SLUICE_TRY_NUMBER $SLUICE_HOSTNAME" >> ${ticks}
        i=$((i + 1))
        sleep 0.1
      done
      echo done
`;

interface Tick {
  ms: number;
  tryNumber: number;
  host: string;
}

interface TryRow {
  try_number: number;
  state: string;
  host: string;
  error: string | null;
  lease_until: Date | null;
  started_at: Date;
  ended_at: Date | null;
}

/** The JSON log lines a process printed on stderr (others skipped). */
function logLines(stderr: string): { time: number; msg: string }[] {
  const out: { time: number; msg: string }[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const rec = JSON.parse(line) as { time?: number; msg?: string };
      if (typeof rec.time === 'number' && typeof rec.msg === 'string') out.push({ time: rec.time, msg: rec.msg });
    } catch {
      // not a log line
    }
  }
  return out;
}

describe('e2e: network partition (a worker in its own network namespace loses the PostgreSQL state)', function () {
  this.timeout(180_000);
  const server = usePostgres('partition');
  let host: IsolatedHost | undefined;
  let forwarder: TcpForwarder | undefined;
  let p: Project | undefined;
  let db: pg.Client | undefined;
  let url = '';
  let partitionedUrl = '';

  before(async function () {
    const made = isolatedHost();
    if (typeof made === 'string') {
      console.warn(`    (network partition test skipped: ${made})`);
      this.skip();
    }
    host = made;
    url = await server.newDatabase('partition');
    const u = new URL(url);
    forwarder = await forwardTcp(host.outerAddr, { host: u.hostname, port: Number(u.port || 5432) });
    u.hostname = host.outerAddr;
    u.port = String(forwarder.port);
    partitionedUrl = u.toString();
    const blocked = reachableFrom(host, host.outerAddr, forwarder.port);
    if (blocked !== null) {
      console.warn(`    (network partition test skipped: namespace ${host.ns} cannot reach ${host.outerAddr}: ${blocked})`);
      this.skip();
    }
    p = new Project({ SLUICE_STATE: url });
    p.write('dags/part.yaml', dag(path.join(p.dir, 'ticks.txt')));
    p.write('lease.yaml', `scheduler:\n  lease_timeout: ${LEASE}\n`);
    db = new pg.Client({ connectionString: url, options: '-c search_path=sluice' });
    db.on('error', () => undefined); // the database is dropped (its sessions ended) by usePostgres's own after hook
    await db.connect();
  });
  after(async () => {
    await db?.end().catch(() => undefined);
    await forwarder?.close();
    host?.remove();
    p?.remove();
  });

  /** Waits for test() to hold; on timeout, the error ends with explain() (a process's log). */
  async function until(
    what: string,
    test: () => Promise<boolean> | boolean,
    ms = 90_000,
    explain: () => string = () => '',
  ): Promise<void> {
    const end = Date.now() + ms;
    for (;;) {
      try {
        if (await test()) return;
      } catch {
        // the schema may not be there yet
      }
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${explain()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const found = async (sql: string) => (await db!.query(sql)).rows.length > 0;

  function ticks(): Tick[] {
    const file = path.join(p!.dir, 'ticks.txt');
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => {
        const [ns, n, h] = l.split(' ');
        return { ms: Number(BigInt(ns!) / 1_000_000n), tryNumber: Number(n), host: h! };
      });
  }

  it('the cut-off worker stops its try before its lease ends; the try is failed as worker lost and retried on another host', async () => {
    const proj = p!;
    // The state is created first, through the real address.
    const init = proj.run(['dags', 'list']);
    expect(init.code, init.stderr).to.equal(0);

    const procs: ReturnType<Project['start']>[] = [];
    try {
      const s = proj.start(['-c', 'lease.yaml', 'scheduler', '--workers'], { env: { SLUICE_HOSTNAME: 'host-s' } });
      procs.push(s);
      // -v: the try's log lines go to the worker's stderr too (its state database is about to be out of reach).
      const a = proj.start(['-v', '-c', 'lease.yaml', 'worker'], {
        env: { SLUICE_HOSTNAME: 'host-a', SLUICE_STATE: partitionedUrl },
        prefix: host!.exec,
      });
      procs.push(a);
      await until(
        'try 1 running on host-a, ticking',
        async () =>
          (await found(`SELECT 1 FROM task_tries WHERE try_number = 1 AND state = 'running' AND host = 'host-a'`)) &&
          ticks().length >= 3,
        90_000,
        () => `host-a's stderr:\n${a.output().stderr}`,
      );
      // Host B only now, so A surely holds the try; B's worker registered before the cut.
      const b = proj.start(['-c', 'lease.yaml', 'worker'], { env: { SLUICE_HOSTNAME: 'host-b' } });
      procs.push(b);
      await until('host-b registered', () => found(`SELECT 1 FROM workers WHERE host = 'host-b'`));

      host!.cut();
      // Meanwhile, the last lease end try 1 held (endTry clears lease_until once the try is failed).
      let leaseSeen = 0;
      await until('the run to end', async () => {
        const [row] = (await db!.query(`SELECT lease_until FROM task_tries WHERE try_number = 1 AND state = 'running'`)).rows as {
          lease_until: Date;
        }[];
        if (row) leaseSeen = Math.max(leaseSeen, row.lease_until.getTime());
        return found(`SELECT 1 FROM dag_runs WHERE state IN ('success', 'failed')`);
      });
      const tries = (
        await db!.query(
          `SELECT try_number, state, host, error, lease_until, started_at, ended_at
             FROM task_tries WHERE task_id = 'work' ORDER BY try_id`,
        )
      ).rows as TryRow[];
      const runs = (await db!.query(`SELECT state FROM dag_runs`)).rows;
      const all = ticks();
      const t1 = all.filter((t) => t.tryNumber === 1);
      const t2 = all.filter((t) => t.tryNumber === 2);
      const context = JSON.stringify({ tries, t1: t1.slice(-3), t2: t2.slice(0, 3) }, null, 1);

      // (2) the scheduler failed try 1 as worker lost; (3) try 2 ran on host-b and succeeded; (4) the run succeeded.
      expect(
        tries.map((t) => [t.try_number, t.state, t.host]),
        context,
      ).to.deep.equal([
        [1, 'failed', 'host-a'],
        [2, 'success', 'host-b'],
      ]);
      const [first, second] = tries as [TryRow, TryRow];
      expect(first.error).to.match(/^worker lost: pid \d+ on host-a stopped renewing this try's lease \(it ended at /);
      expect(runs).to.deep.equal([{ state: 'success' }]);

      // (1) try 1 stopped before the lease it last renewed ended: the lease_until the scheduler found expired, as its
      // error quotes it (failing the try clears the column), and never before one seen while it ran.
      const leaseEnd = new Date(/it ended at (\S+)\)/.exec(first.error!)![1]!).getTime();
      expect(leaseEnd).to.be.at.least(leaseSeen);
      expect(t1.length, context).to.be.at.least(3);
      expect(t1.every((t) => t.host === 'host-a')).to.equal(true);
      const lastTick1 = t1.at(-1)!.ms;
      expect(lastTick1, `try 1 ticked at ${lastTick1}, its lease ended at ${leaseEnd}\n${context}`).to.be.below(leaseEnd);
      // The scheduler failed it only once that lease had ended.
      expect(first.ended_at!.getTime()).to.be.at.least(leaseEnd);

      // (3) never two tries at once: try 2 started, and ticked, only after try 1's last tick.
      expect(t2.length, context).to.equal(3);
      expect(t2.every((t) => t.host === 'host-b')).to.equal(true);
      expect(t2[0]!.ms, context).to.be.above(lastTick1);
      expect(second.started_at.getTime()).to.be.at.least(first.ended_at!.getTime());
      // No tick of try 1 came after try 2's first one (try 1 is not running on somewhere unseen).
      expect(all.findIndex((t) => t.tryNumber === 2)).to.equal(t1.length);

      // Host A's own log (JSON lines on its stderr): it could not renew the lease, so it stopped the try (the
      // command got SIGTERM) before the lease ended, for another worker to retry it.
      await until('host-a to log that it stopped its try', () => /aborting the command/.test(a.output().stderr), 30_000);
      const aLog = logLines(a.output().stderr);
      const gaveUp = aLog.find((l) => /^could not renew this try's lease \(.+\); stopped before the lease ends/.test(l.msg));
      expect(gaveUp, a.output().stderr).to.not.equal(undefined);
      expect(gaveUp!.msg).to.match(/for another worker to retry it$/);
      const aborting = aLog.find((l) => l.msg.startsWith('aborting the command: SIGTERM to its process group'));
      expect(aborting, a.output().stderr).to.not.equal(undefined);
      expect(gaveUp!.time).to.be.below(leaseEnd);
      expect(aborting!.time).to.be.below(leaseEnd);

      // The partition heals: A reaches the state again (its heartbeat resumes). Whatever of try 1's end A still
      // writes late does not change the scheduler's decision, and A stops cleanly on SIGTERM.
      const healed = new Date();
      host!.heal();
      await until(
        "host-a's heartbeat after the partition healed",
        async () =>
          (await db!.query(`SELECT 1 FROM workers WHERE host = 'host-a' AND heartbeat_at > $1`, [healed])).rows.length > 0,
        120_000,
        () => `host-a's stderr:\n${a.output().stderr}`,
      );
      const after = (await db!.query(`SELECT try_number, state, host, error FROM task_tries ORDER BY try_id`)).rows;
      expect(after).to.deep.equal(tries.map((t) => ({ try_number: t.try_number, state: t.state, host: t.host, error: t.error })));
      expect((await db!.query(`SELECT state FROM dag_runs`)).rows).to.deep.equal([{ state: 'success' }]);
      a.kill('SIGTERM');
      expect(await a.done, a.output().stderr).to.equal(0);
    } finally {
      // Host A is killed outright when a failure left it stuck on its dead connections.
      for (const c of procs) if (c.exitCode === null && c.signalCode === null) c.kill(c === procs[1] ? 'SIGKILL' : 'SIGTERM');
      await Promise.all(procs.map((c) => c.done));
    }
    for (const c of procs) expect(c.exitCode, c.output().stderr).to.equal(0);
  });
});
