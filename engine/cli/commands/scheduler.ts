/** `sluice scheduler` and `sluice backfill`. */
import { type Command, Option } from 'commander';
import type { BackfillOptions } from '../ops.js';
import { action, type CliContext, examples, verbose } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const scheduler = program
    .command('scheduler')
    .description('run the scheduler daemon: create runs as data intervals close and run them')
    .option('--once', 'do what is due now, then exit (for cron-driven deployments)')
    .option('--workers', 'hand tasks to `sluice worker` processes (on any host sharing the state) instead of running them')
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
        'SLUICE_HOME=/var/lib/sluice sluice scheduler --dags-dir /etc/sluice/dags',
      ]) +
        '\nOne scheduler per state DB. SIGTERM/SIGINT stop it gracefully (scheduler.grace_period); a second signal aborts running tries.\n',
    );
  type SchedulerFlags = { once?: boolean; workers?: boolean; web?: boolean; host: string; port: string; publicRead?: boolean };
  action(ctx, scheduler, async (app, o: SchedulerFlags) => {
    const { schedulerCommand } = await import('../ops.js');
    // the web UI only queues runs and clears tasks here: this scheduler runs them
    const web = o.web
      ? await (await import('./webserver.js')).serveWeb(app, { ...o, executes: false, name: 'sluice scheduler' })
      : null;
    try {
      return await schedulerCommand(app, { once: o.once, workers: o.workers, verbose: verbose(scheduler) });
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
