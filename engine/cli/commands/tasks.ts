/** `sluice tasks list|clear` and `sluice logs`. */
import type { Command } from 'commander';
import { SluiceError, UsageError } from '../../errors.js';
import type { App } from '../app.js';
import { colourState, humanMs, isoSeconds, printJson, table } from '../format.js';
import { logLineJson, taskInstanceJson, tryJson } from '../records.js';
import { action, type CliContext, examples, readingAction } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const tasks = program.command('tasks').description('inspect task instances');
  const tasksList = tasks
    .command('list')
    .description("list a run's task instances")
    .argument('<run_id>')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice tasks list songplays__manual__2018-11-21T00:00:00Z']));
  readingAction(ctx, tasksList, async (app, runId: string, o: { json?: boolean }) => {
    await requireRun(app, runId);
    const tis = await app.store.tasks.list(runId);
    const tries = await app.store.tasks.tries(runId);
    if (o.json) return void printJson({ task_instances: tis.map(taskInstanceJson), tries: tries.map(tryJson) });
    const colour = Boolean(process.stdout.isTTY);
    process.stdout.write(
      table(
        ['task', 'operator', 'state', 'tries', 'started', 'duration', 'host', 'error'],
        tis.map((ti) => {
          const mine = tries.filter((t) => t.taskId === ti.taskId);
          const last = mine[mine.length - 1];
          return [
            ti.taskId,
            ti.operator,
            colourState(ti.state, colour),
            `${mine.length}/${ti.maxTries}`,
            isoSeconds(ti.startedAt),
            last?.durationMs !== undefined ? humanMs(last.durationMs) : null,
            last ? `${last.host}:${last.pid}` : null, // the latest try's, wherever it ran (sluice worker)
            last?.state === 'failed' ? (last.error ?? '').split('\n')[0]!.slice(0, 100) : '',
          ];
        }),
      ),
    );
  });

  const tasksClear = tasks
    .command('clear')
    .description("clear a run's tasks so they run again (the run goes back to the queue)")
    .argument('<run_id>')
    .option('--task <task_id...>', 'only these tasks')
    .option('--downstream', 'with --task: also every task downstream of them')
    .option('--failed-only', 'only failed and unfinished tasks')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples([
        'sluice tasks clear songplays__scheduled__2018-11-21T00:00:00Z --failed-only',
        'sluice tasks clear songplays__scheduled__2018-11-21T00:00:00Z --task load_songplays --downstream',
      ]),
    );
  action(
    ctx,
    tasksClear,
    async (app, runId: string, o: { task?: string[]; downstream?: boolean; failedOnly?: boolean; json?: boolean }) => {
      const { tasksClearCommand } = await import('../ops.js');
      return tasksClearCommand(app, runId, o);
    },
  );

  const logs = program
    .command('logs')
    .description("print a task try's log lines (default: its latest try)")
    .argument('<run_id>')
    .argument('<task_id>')
    .option('--try <n>', 'the try number')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      examples(['sluice logs songplays__manual__2018-11-21T00:00:00Z stage_events', 'sluice logs <run_id> quality --try 2']),
    );
  readingAction(ctx, logs, async (app, runId: string, taskId: string, o: { try?: string; json?: boolean }) => {
    await requireRun(app, runId);
    const tries = await app.store.tasks.tries(runId, taskId);
    if (!(await app.store.tasks.get(runId, taskId))) {
      const names = (await app.store.tasks.list(runId)).map((t) => t.taskId);
      throw new UsageError(`run ${runId} has no task '${taskId}'. Its tasks: ${names.join(', ')}`);
    }
    if (tries.length === 0) throw new SluiceError(`task ${taskId} of ${runId} has not run yet`);
    const t = o.try !== undefined ? tries.find((x) => x.tryNumber === Number(o.try)) : tries[tries.length - 1];
    if (!t) throw new UsageError(`task ${taskId} has no try ${o.try}; its tries: ${tries.map((x) => x.tryNumber).join(', ')}`);
    const lines = await app.store.logs.list(t.tryId);
    if (o.json) return void printJson({ try: tryJson(t), lines: lines.map(logLineJson) });
    process.stdout.write(
      `# ${runId} ${taskId} try ${t.tryNumber} of ${tries.length}: ${t.state}` +
        `${t.durationMs !== null ? `, ${humanMs(t.durationMs)}` : ''} (pid ${t.pid} on ${t.host})\n`,
    );
    for (const l of lines) {
      const data = l.data
        ? ' ' +
          Object.entries(l.data)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
        : '';
      process.stdout.write(`${l.ts.toISOString()} ${l.level.toUpperCase().padEnd(5)} ${l.msg}${data}\n`);
    }
    if (t.state === 'failed' && t.error) process.stdout.write(`# error: ${t.error}\n`);
  });
}

async function requireRun(app: App, runId: string): Promise<void> {
  if (!(await app.store.runs.get(runId))) {
    const recent = (await app.store.runs.list({ limit: 5 })).map((r) => r.runId);
    throw new UsageError(
      `no run '${runId}'${recent.length ? `. Recent runs: ${recent.join(', ')}` : ''} (see: sluice runs list)`,
    );
  }
}
