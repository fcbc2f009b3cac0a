/** `sluice worker` and `sluice workers list`. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { isoSeconds, printJson, table } from '../format.js';
import { action, type CliContext, examples, readingAction, verbose } from './kit.js';

/** Queue names, as DAG files write them (a task's `queue` key). */
const QUEUE = /^[A-Za-z0-9_.-]+$/;

/** `--queue` and `--concurrency`, as `sluice worker` and `sluice scheduler --worker` take them. */
export interface WorkerFlags {
  queue: string[];
  concurrency?: string;
}

/** The queues and concurrency the flags ask for, checked (concurrency defaults to the config's parallelism). */
export function workerFlags(o: WorkerFlags, parallelism: number): { queues: string[]; concurrency: number } {
  const bad = o.queue.find((q) => !QUEUE.test(q));
  if (bad !== undefined) throw new UsageError(`--queue '${bad}' is not a queue name: use only letters, digits, _ . and -`);
  const concurrency = o.concurrency === undefined ? parallelism : Number(o.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a whole number >= 1');
  return { queues: [...new Set(o.queue)], concurrency };
}

export function register(program: Command, ctx: CliContext): void {
  const worker = program
    .command('worker')
    .description('run tasks the scheduler queued (scheduler --workers), on this host, from the shared state')
    .option('--queue <queue...>', "queues to take tasks from (a task's `queue` key)", ['default'])
    .option('--concurrency <n>', 'tries run at once (default: parallelism from the config)')
    .addHelpText(
      'after',
      examples([
        'sluice worker',
        'sluice worker --queue default heavy --concurrency 4',
        'SLUICE_STATE=postgres://sluice@db.internal/sluice sluice worker --dags-dir /etc/sluice/dags',
      ]) +
        '\nEvery worker and the scheduler read the same DAG files and share one state (PostgreSQL for several hosts).\n' +
        'SIGTERM/SIGINT stop it gracefully (scheduler.grace_period): running tries may end, then are aborted and retried.\n',
    );
  action(ctx, worker, async (app, o: WorkerFlags) => {
    const { queues, concurrency } = workerFlags(o, app.config.parallelism);
    const [{ Worker }, { createConsoleLogger }, { runnerDeps }] = await Promise.all([
      import('../../schedule/worker.js'),
      import('../../log.js'),
      import('../app.js'),
    ]);
    const v = verbose(worker);
    const w = new Worker({
      store: app.store,
      dagsDir: app.config.dagsDir,
      queues,
      concurrency,
      gracePeriodMs: app.config.scheduler.gracePeriodMs,
      runner: runnerDeps(app, v),
      log: createConsoleLogger(v ? 'debug' : app.config.logLevel === 'silent' ? 'silent' : 'info'),
    });
    const onSignal = (sig: NodeJS.Signals) => w.stop(`${sig} received`);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      await w.run();
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    return 0;
  });

  const workers = program.command('workers').description('inspect the workers sharing this state');
  const list = workers
    .command('list')
    .description('list workers: host, pid, queues, running tries, last heartbeat')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice workers list', 'sluice workers list --json']));
  readingAction(ctx, list, async (app, o: { json?: boolean }) => {
    const all = await app.store.work.workers();
    if (o.json) {
      return void printJson(
        all.map((w) => ({
          host: w.host,
          pid: w.pid,
          queues: w.queues,
          concurrency: w.concurrency,
          running: w.running,
          started_at: w.startedAt.toISOString(),
          heartbeat_at: w.heartbeatAt.toISOString(),
        })),
      );
    }
    process.stdout.write(
      table(
        ['host', 'pid', 'queues', 'running', 'last heartbeat', 'since'],
        all.map((w) => [
          w.host,
          w.pid,
          w.queues.join(','),
          `${w.running}/${w.concurrency}`,
          isoSeconds(w.heartbeatAt),
          isoSeconds(w.startedAt),
        ]),
      ),
    );
  });

  const schedulers = program.command('schedulers').description('inspect the schedulers sharing this state');
  const slist = schedulers
    .command('list')
    .description('list schedulers: host, pid, last heartbeat (several at once on a PostgreSQL state)')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice schedulers list', 'sluice schedulers list --json']));
  readingAction(ctx, slist, async (app, o: { json?: boolean }) => {
    const all = await app.store.scheduler.schedulers();
    const rows = all.map((h) => ({
      host: h.host,
      pid: h.pid,
      started_at: h.startedAt.toISOString(),
      heartbeat_at: h.heartbeatAt.toISOString(),
    }));
    if (o.json) return void printJson(rows);
    process.stdout.write(
      table(
        ['host', 'pid', 'last heartbeat', 'since'],
        all.map((h) => [h.host, h.pid, isoSeconds(h.heartbeatAt), isoSeconds(h.startedAt)]),
      ),
    );
  });

  registerPools(program, ctx);
}

/** `sluice pools list|set|delete`: named slot limits every scheduler and worker sharing the state honours. */
function registerPools(program: Command, ctx: CliContext): void {
  const pools = program
    .command('pools')
    .description("manage pools: slots a task's tries hold while they run (a task's `pool` and `pool_slots` keys)");
  const list = pools
    .command('list')
    .description('list pools: slots, slots in use (running tries, and tries about to start), description')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice pools list', 'sluice pools list --json']));
  readingAction(ctx, list, async (app, o: { json?: boolean }) => {
    const all = await app.store.pools.list();
    if (o.json) {
      return void printJson(
        all.map((p) => ({
          name: p.name,
          slots: p.slots,
          running: p.running,
          starting: p.starting,
          open: Math.max(0, p.slots - p.running - p.starting),
          description: p.description,
          updated_at: p.updatedAt.toISOString(),
        })),
      );
    }
    process.stdout.write(
      table(
        ['pool', 'slots', 'running', 'starting', 'open', 'description'],
        all.map((p) => [
          p.name,
          p.slots,
          p.running,
          p.starting,
          Math.max(0, p.slots - p.running - p.starting),
          p.description ?? '',
        ]),
      ),
    );
  });

  const set = pools
    .command('set')
    .description('create a pool or change its slots (tries already holding slots keep them)')
    .argument('<pool>', 'pool name (letters, digits, _ . -)')
    .argument('<slots>', 'how many slots (0 holds every task of the pool back)')
    .option('--description <text>', 'what the pool limits')
    .addHelpText(
      'after',
      examples(['sluice pools set warehouse 4 --description "loads at once on the cluster"', 'sluice pools set api 1']),
    );
  action(ctx, set, async (app, name: string, slotsText: string, o: { description?: string }) => {
    if (!QUEUE.test(name)) throw new UsageError(`pool '${name}' is not a pool name: use only letters, digits, _ . and -`);
    const slots = Number(slotsText);
    if (!/^\d+$/.test(slotsText) || !Number.isSafeInteger(slots))
      throw new UsageError(`slots '${slotsText}' must be a whole number >= 0`);
    await app.store.pools.set(name, slots, { description: o.description ?? null, now: new Date() });
    process.stdout.write(`pool ${name}: ${slots} slot(s)\n`);
  });

  const del = pools
    .command('delete')
    .description("delete a pool (tasks naming it then fail: there is no pool '<name>')")
    .argument('<pool>')
    .addHelpText('after', examples(['sluice pools delete api']));
  action(ctx, del, async (app, name: string) => {
    if (!(await app.store.pools.delete(name))) throw new UsageError(`no pool '${name}' (see: sluice pools list)`);
    process.stdout.write(`pool ${name} deleted\n`);
  });
}
