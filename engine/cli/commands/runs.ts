/** `sluice runs list|mark`. */
import { type Command, Option } from 'commander';
import type { RunState } from '../../interfaces.js';
import { colourState, humanMs, isoSeconds, printJson, table } from '../format.js';
import { runJson } from '../records.js';
import { action, type CliContext, examples, readingAction } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const runs = program.command('runs').description('inspect DAG runs');
  const runsList = runs
    .command('list')
    .description('list runs, newest logical date first')
    .option('--dag <dag_id>', 'only this DAG')
    .addOption(new Option('--state <state>', 'only runs in this state').choices(['queued', 'running', 'success', 'failed']))
    .option('--limit <n>', 'at most n runs', '50')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice runs list', 'sluice runs list --dag songplays --state failed']));
  readingAction(ctx, runsList, async (app, o: { dag?: string; state?: RunState; limit: string; json?: boolean }) => {
    const list = await app.store.runs.list({ dagId: o.dag, state: o.state, limit: Number(o.limit) || 50 });
    if (o.json) return void printJson(list.map(runJson));
    const colour = Boolean(process.stdout.isTTY);
    process.stdout.write(
      table(
        ['run_id', 'dag', 'state', 'type', 'logical date', 'started', 'duration'],
        list.map((r) => [
          r.runId,
          r.dagId,
          colourState(r.state, colour),
          r.runType,
          isoSeconds(r.logicalDate),
          isoSeconds(r.startedAt),
          r.startedAt && r.endedAt ? humanMs(r.endedAt.getTime() - r.startedAt.getTime()) : null,
        ]),
      ),
    );
  });

  const runsMark = runs
    .command('mark')
    .description('mark a run success (its unfinished tasks too) or failed')
    .argument('<run_id>')
    .argument('<state>', 'success or failed')
    .addHelpText('after', examples(['sluice runs mark songplays__scheduled__2018-11-21T00:00:00Z success']));
  action(ctx, runsMark, async (app, runId: string, state: string) => {
    const { runsMarkCommand } = await import('../ops.js');
    return runsMarkCommand(app, runId, state);
  });
}
