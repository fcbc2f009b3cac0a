/** `sluice report <dag_id>`: what a run did, from the state DB (the body is ../report.ts). */
import type { Command } from 'commander';
import { type CliContext, examples, readingAction } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const report = program
    .command('report')
    .description(
      'what a run did, from the state DB: rows loaded, rejected lines, data quality checks (exit 1 if the run failed or an error check failed)',
    )
    .argument('<dag_id>')
    .option('--run <run_id>', 'this run (default: the latest)')
    .option('--date <date>', 'the run of this logical date')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice report songplays', 'sluice report songplays --date 2018-11-21 --json']));
  readingAction(ctx, report, async (app, dagId: string, o: { run?: string; date?: string; json?: boolean }) => {
    const { reportCommand } = await import('../report.js');
    return reportCommand(app, dagId, o);
  });
}
