/** `sluice report <dag_id>`: what a run did, from the state DB (the body is ../report.ts and ../report/). */
import type { Command } from 'commander';
import { type CliContext, examples, readingAction } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const report = program
    .command('report')
    .description(
      'what a run did, from the state DB: rows loaded, rejected lines, data quality checks and their trend (exit 1 if the run failed or an error check failed)',
    )
    .argument('<dag_id>')
    .option('--run <run_id>', 'this run (default: the latest)')
    .option('--date <date>', 'the run of this logical date')
    .option('--format <format>', 'text (default), json, junit (for CI) or html (one self-contained page)')
    .option('--out <file>', 'write the report to this file (whole or not at all) instead of printing it')
    .option('--last <n>', 'runs the row-count and check trends cover, up to the reported one', '30')
    .option('--json', 'JSON output (same as --format json)')
    .addHelpText(
      'after',
      examples([
        'sluice report songplays',
        'sluice report songplays --date 2018-11-21 --format json',
        'sluice report songplays --format junit --out reports/dq.xml',
        'sluice report songplays --last 100 --format html --out report.html',
      ]),
    );
  readingAction(
    ctx,
    report,
    async (
      app,
      dagId: string,
      o: { run?: string; date?: string; json?: boolean; format?: string; out?: string; last?: string },
    ) => {
      const { reportCommand } = await import('../report.js');
      return reportCommand(app, dagId, o);
    },
  );
}
