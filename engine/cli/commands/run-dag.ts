/** `sluice run-dag` (and the `run-dag` bin): a manual run of a DAG, in the foreground. */
import type { Command } from 'commander';
import type { RunDagOptions } from '../run-command.js';
import { action, type CliContext, examples, verbose } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const runDag = program
    .command('run-dag')
    .description('create a manual run of a DAG and run it to completion in the foreground')
    .argument('<dag_id>', 'the DAG to run')
    .option('--date <date>', 'logical date: the run of the data interval that starts at this date or time')
    .option(
      '--conf <json>',
      'run configuration: values for the DAG params it declares, checked before the run starts (a JSON object)',
    )
    .option('--dags-dir <dir>', 'folder of DAG files')
    .option('--rerun', 'run an existing run of that date again (clears its tasks)')
    .option('--failed-only', 'with --rerun: only its failed and unfinished tasks')
    .option('--json', 'print the summary as JSON')
    .addHelpText(
      'after',
      examples([
        'run-dag songplays                      # the last complete data interval',
        'run-dag songplays --date 2018-11-21    # covers [2018-11-21, 2018-11-22) for a daily DAG',
        'run-dag songplays --date 2018-11-21 --rerun --failed-only',
        `run-dag redshift_cluster --conf '{"target": "aws"}' --json`,
      ]) + '\nExit status: 0 success, 1 the run failed, 2 usage or validation error, 130 interrupted.\n',
    );
  action(ctx, runDag, async (app, dagId: string, o: RunDagOptions) => {
    const { runDagCommand } = await import('../run-command.js');
    return runDagCommand(app, dagId, { ...o, verbose: verbose(runDag) });
  });
}
