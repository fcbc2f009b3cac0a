/**
 * Branch: chooses which direct downstream tasks run, as Airflow's
 * BranchPythonOperator. The choice is a templated expression (`follow`) or
 * what a function of the project returns (`module` and `export`, as
 * Function). The try records it as its `branch` output; the run loop skips
 * the direct downstream tasks not chosen, and theirs follow their trigger
 * rules (Airflow's skip propagation: an all_success task after a skipped one
 * is skipped, a none_failed join still runs).
 */
import { z } from 'zod';
import { TaskFailure } from '../engine/errors.js';
import { defineOperator } from '../engine/operator.js';
import { loadExport } from './function.js';

const NOT_RETRIED = { retryable: false, notRetriedBecause: 'the branch would choose the same way again' };

export const Branch = defineOperator({
  name: 'Branch',
  description: 'Chooses the direct downstream tasks to run; the others are skipped (Airflow BranchPythonOperator)',
  params: z
    .object({
      follow: z
        .union([z.string(), z.array(z.string())])
        .optional()
        .describe(
          'the task id(s) to follow (Liquid templates; a rendered text may list several ids separated by commas or spaces, ' +
            'or none), e.g. "{% if params.full_load %}load_all{% else %}load_day{% endif %}"',
        ),
      module: z
        .string()
        .regex(/\.(m|c)?(t|j)s$/, { message: 'must be a .ts, .mts, .cts, .js, .mjs or .cjs file' })
        .optional()
        .describe('instead of follow: a module of the project whose function returns the task id(s), e.g. tasks/choose.ts'),
      export: z
        .string()
        .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, { message: 'must be the name of an export (an identifier)' })
        .default('default')
        .describe('with module: the exported function (ctx) => task id | task ids (default: the default export)'),
    })
    .strict()
    .refine((p) => (p.follow === undefined) !== (p.module === undefined), {
      message: 'give exactly one of follow (a template) and module (a function)',
    }),
  templated: ['follow'],
  async execute(ctx) {
    const { params, log } = ctx;
    let chosen: unknown;
    let from: string;
    if (params.module !== undefined) {
      const fn = await loadExport(ctx.resolvePath(params.module), params.module, params.export);
      chosen = await fn(ctx);
      from = `${params.export} from ${params.module}`;
    } else {
      const texts = typeof params.follow === 'string' ? [params.follow] : params.follow!;
      chosen = texts.flatMap((t) => t.split(/[\s,]+/)).filter((t) => t.length > 0);
      from = 'follow';
    }
    if (chosen === null || chosen === undefined) chosen = [];
    const ids = typeof chosen === 'string' ? [chosen] : chosen;
    if (!Array.isArray(ids) || ids.some((v) => typeof v !== 'string')) {
      throw new TaskFailure(
        `${from} returned ${JSON.stringify(chosen)}: a branch is a task id or a list of task ids (an empty list skips them all)`,
        NOT_RETRIED,
      );
    }
    log.info({ follow: ids }, `branch chosen by ${from}`);
    // The run loop checks the ids against the task's direct downstream tasks and skips the others.
    ctx.record({ branch: ids });
  },
});
