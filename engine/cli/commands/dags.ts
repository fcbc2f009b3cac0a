/** `sluice dags list|show|validate|schema|pause|unpause|next`. */
import fs from 'node:fs';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { errorMessage, formatProblem } from '../../errors.js';
import type { Dag } from '../../interfaces.js';
import type { App } from '../app.js';
import { printJson, table } from '../format.js';
import { action, type CliContext, examples, readingAction } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const dags = program.command('dags').description('list, show, validate DAG files; print their JSON Schema');

  const dagsList = dags
    .command('list')
    .description('list the DAGs in the DAG folder (broken files are reported on stderr)')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags list', 'sluice dags list --json']));
  readingAction(ctx, dagsList, async (app, o: { json?: boolean }) => {
    const { loadDagsDir } = await import('../../dag/load.js');
    const { dags: list, errors } = loadDagsDir(app.config.dagsDir, app.registry);
    const rows = [];
    for (const d of list) {
      const last = (await app.store.runs.list({ dagId: d.id, limit: 1 }))[0];
      rows.push({
        dag_id: d.id,
        schedule: d.schedule,
        tasks: d.tasks.size,
        file: path.relative(process.cwd(), d.file),
        last_run: last ? last.runId : null,
        last_state: last ? last.state : null,
      });
    }
    if (o.json) printJson({ dags: rows, errors: errors.map((e) => ({ file: e.file, problems: e.problems.map(formatProblem) })) });
    else {
      process.stdout.write(
        table(
          ['dag', 'schedule', 'tasks', 'file', 'last run'],
          rows.map((r) => [
            r.dag_id,
            r.schedule ?? 'manual',
            r.tasks,
            r.file,
            r.last_state ? `${r.last_state} (${r.last_run})` : '',
          ]),
        ),
      );
      for (const e of errors) process.stderr.write(`\nbroken DAG file:\n${e.message}\n`);
    }
    return 0;
  });

  const dagsShow = dags
    .command('show')
    .description('show a DAG: its tasks and dependencies')
    .argument('<dag_id>')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'))
    .addHelpText(
      'after',
      examples([
        'sluice dags show songplays',
        'sluice dags show songplays --format mermaid',
        'sluice dags show songplays --format dot | dot -Tpng > dag.png',
      ]),
    );
  readingAction(ctx, dagsShow, async (app, dagId: string, o: { format: 'text' | 'mermaid' | 'dot' }) => {
    const [{ renderDag }, { findDag }] = await Promise.all([import('../../dag/render.js'), import('../app.js')]);
    process.stdout.write(renderDag(findDag(app, dagId), o.format).replace(/\n?$/, '\n'));
  });

  const dagsValidate = dags
    .command('validate')
    .description('validate DAG files (default: every file in the DAG folder); exits 2 if any is bad')
    .argument('[paths...]', 'files or folders')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags validate', 'sluice dags validate dags/songplays.yaml my-dags/']));
  readingAction(ctx, dagsValidate, (app, paths: string[], o: { json?: boolean }) => validateCommand(app, paths, Boolean(o.json)));

  const dagsSchema = dags
    .command('schema')
    .description('print the JSON Schema of DAG files (for editor completion)')
    .addHelpText(
      'after',
      examples([
        'sluice dags schema > dag.schema.json',
        '# then in a DAG file:  # yaml-language-server: $schema=./dag.schema.json',
      ]),
    );
  readingAction(ctx, dagsSchema, async (app) => {
    const { dagJsonSchema } = await import('../../dag/schema.js');
    printJson(dagJsonSchema(app.registry));
  });

  for (const [verb, paused] of [
    ['pause', true],
    ['unpause', false],
  ] as const) {
    const c = dags
      .command(verb)
      .description(paused ? 'pause a DAG: the scheduler creates and starts no runs for it' : 'unpause a DAG')
      .argument('<dag_id>')
      .addHelpText('after', examples([`sluice dags ${verb} songplays`]));
    action(ctx, c, async (app, dagId: string) => {
      const { pauseCommand } = await import('../ops.js');
      return pauseCommand(app, dagId, paused);
    });
  }

  const dagsNext = dags
    .command('next')
    .description('the next data intervals of a DAG and when their runs start')
    .argument('<dag_id>')
    .option('-n, --count <n>', 'how many', '5')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice dags next songplays', 'sluice dags next songplays -n 10 --json']));
  readingAction(ctx, dagsNext, async (app, dagId: string, o: { count: string; json?: boolean }) => {
    const { nextCommand } = await import('../ops.js');
    return nextCommand(app, dagId, o);
  });
}

async function validateCommand(app: App, paths: string[], json: boolean): Promise<number> {
  const { loadDagFile, loadDagsDir } = await import('../../dag/load.js');
  const { redshiftTypeWarnings } = await import('../../dag/redshift-types.js');
  const targets = paths.length ? paths : [app.config.dagsDir];
  type Warning = ReturnType<typeof redshiftTypeWarnings>[number];
  const results: {
    file: string;
    ok: boolean;
    dag?: string;
    tasks?: number;
    problems: string[];
    warnings?: Warning[];
  }[] = [];
  // Warnings (DDL Redshift would change) leave the DAG valid and the exit code 0.
  const valid = (d: Dag) => ({
    file: d.file,
    ok: true,
    dag: d.id,
    tasks: d.tasks.size,
    problems: [],
    warnings: redshiftTypeWarnings(d, app.registry),
  });
  for (const p of targets) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch {
      results.push({ file: p, ok: false, problems: [`${p}: no such file or folder`] });
      continue;
    }
    if (stat.isDirectory()) {
      const { dags, errors } = loadDagsDir(p, app.registry);
      for (const d of dags) results.push(valid(d));
      for (const e of errors) results.push({ file: e.file, ok: false, problems: e.problems.map(formatProblem) });
    } else {
      try {
        results.push(valid(loadDagFile(p, app.registry)));
      } catch (err) {
        const problems = (err as { problems?: Parameters<typeof formatProblem>[0][] }).problems;
        results.push({ file: p, ok: false, problems: problems ? problems.map(formatProblem) : [errorMessage(err)] });
      }
    }
  }
  const bad = results.filter((r) => !r.ok);
  if (json) printJson({ ok: bad.length === 0, files: results });
  else {
    for (const r of results) {
      if (r.ok) {
        process.stdout.write(`ok    ${path.relative(process.cwd(), r.file) || r.file}  (dag ${r.dag}, ${r.tasks} tasks)\n`);
        for (const w of r.warnings ?? []) {
          const file = path.relative(process.cwd(), w.file) || w.file;
          process.stdout.write(`      warning: ${file}:${w.line}: task ${w.task}: ${w.message}\n`);
        }
      } else {
        process.stdout.write(`FAIL  ${path.relative(process.cwd(), r.file) || r.file}\n`);
        for (const pr of r.problems) process.stdout.write(`      ${pr}\n`);
      }
    }
    process.stdout.write(`${results.length - bad.length} valid, ${bad.length} invalid\n`);
  }
  return bad.length ? 2 : 0;
}
