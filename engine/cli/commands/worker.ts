/** `sluice worker` and `sluice workers list`. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { isoSeconds, printJson, table } from '../format.js';
import { action, type CliContext, examples, readingAction, verbose } from './kit.js';

/** Queue names, as DAG files write them (a task's `queue` key). */
const QUEUE = /^[A-Za-z0-9_.-]+$/;

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
  action(ctx, worker, async (app, o: { queue: string[]; concurrency?: string }) => {
    const bad = o.queue.find((q) => !QUEUE.test(q));
    if (bad !== undefined) throw new UsageError(`--queue '${bad}' is not a queue name: use only letters, digits, _ . and -`);
    const concurrency = o.concurrency === undefined ? app.config.parallelism : Number(o.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError('--concurrency must be a whole number >= 1');
    const [{ Worker }, { createConsoleLogger }, { runnerDeps }] = await Promise.all([
      import('../../schedule/worker.js'),
      import('../../log.js'),
      import('../app.js'),
    ]);
    const v = verbose(worker);
    const w = new Worker({
      store: app.store,
      dagsDir: app.config.dagsDir,
      queues: [...new Set(o.queue)],
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
}
