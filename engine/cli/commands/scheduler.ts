/** `sluice scheduler` and `sluice backfill`. */
import { type Command, Option } from 'commander';
import type { BackfillOptions } from '../ops.js';
import { action, type CliContext, examples, verbose } from './kit.js';
import { workerFlags, type WorkerFlags } from './worker.js';

export function register(program: Command, ctx: CliContext): void {
  const scheduler = program
    .command('scheduler')
    .description('run the scheduler daemon: create runs as data intervals close and run them')
    .option('--once', 'do what is due now, then exit (for cron-driven deployments)')
    .option('--workers', 'hand tasks to `sluice worker` processes (on any host sharing the state) instead of running them')
    .option('--worker', 'with --workers: also run a worker in this process, so one host needs one process (implies --workers)')
    .option('--queue <queue...>', "with --worker: queues its worker takes tasks from (a task's `queue` key)", ['default'])
    .option('--concurrency <n>', 'with --worker: tries its worker runs at once (default: parallelism from the config)')
    .option('--web', 'also serve the web UI (as sluice webserver); runs triggered or cleared there are run by this scheduler')
    .option('--host <host>', 'with --web: address to listen on', '127.0.0.1')
    .option('--port <port>', 'with --web: port to listen on (0: any free port)', '8080')
    .option('--public-read', 'with --web: pages readable without logging in on a non-loopback --host')
    .addHelpText(
      'after',
      examples([
        'sluice scheduler',
        'sluice scheduler --once',
        'sluice scheduler --web --port 8080',
        'sluice scheduler --workers    # tasks run by sluice worker processes',
        'sluice scheduler --worker --queue default heavy    # and by a worker in this process too',
        'SLUICE_HOME=/var/lib/sluice sluice scheduler --dags-dir /etc/sluice/dags',
      ]) +
        '\nOn a SQLite state one scheduler runs at a time; on a PostgreSQL state several may run at once, on any hosts\n' +
        '(active/active: each claims runs; one that dies has its runs taken over once their lease ends).\n' +
        'SIGTERM/SIGINT stop it gracefully (scheduler.grace_period); a second signal aborts running tries.\n',
    );
  type SchedulerFlags = WorkerFlags & {
    once?: boolean;
    workers?: boolean;
    worker?: boolean;
    web?: boolean;
    host: string;
    port: string;
    publicRead?: boolean;
  };
  action(ctx, scheduler, async (app, o: SchedulerFlags) => {
    const { schedulerCommand } = await import('../ops.js');
    const worker = o.worker ? workerFlags(o, app.config.parallelism) : undefined;
    // the web UI only queues runs and clears tasks here: this scheduler runs them
    const web = o.web
      ? await (await import('./webserver.js')).serveWeb(app, { ...o, executes: false, name: 'sluice scheduler' })
      : null;
    try {
      return await schedulerCommand(app, { once: o.once, workers: o.workers, worker, verbose: verbose(scheduler) });
    } finally {
      await web?.close();
    }
  });

  const backfill = program
    .command('backfill')
    .description('create and run the runs of every data interval in a date range')
    .argument('<dag_id>')
    .requiredOption('--from <date>', 'first logical date (inclusive)')
    .requiredOption('--to <date>', 'last logical date (inclusive)')
    .addOption(
      new Option('--reprocess <which>', 'existing runs to run again: failed (and unfinished), completed (all), none')
        .choices(['failed', 'completed', 'none'])
        .default('failed'),
    )
    .option('--max-active-runs <n>', "runs at once (default: the DAG's max_active_runs)")
    .option('--dry-run', 'list the intervals and what would happen, do nothing')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-30',
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-30 --dry-run',
        'sluice backfill songplays --from 2018-11-01 --to 2018-11-07 --reprocess completed --max-active-runs 2',
      ]),
    );
  action(ctx, backfill, async (app, dagId: string, o: BackfillOptions) => {
    const { backfillCommand } = await import('../ops.js');
    return backfillCommand(app, dagId, { ...o, verbose: verbose(backfill) });
  });
}
