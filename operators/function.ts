/**
 * Function: calls a function exported by a module of the project, as
 * Airflow's PythonOperator. The function gets the TaskContext built-in
 * operators get (warehouse, object store, log, signal, params, the run's
 * interval) and what it returns is the task's output.
 *
 * TypeScript modules run without a build step: a .ts/.mts/.cts file is
 * loaded through tsx's `tsImport` (transpiled on the fly, types not checked:
 * `tsc --noEmit` does that), in a namespace of its own, so each try reads the
 * file as it is now. A .js/.mjs/.cjs file is imported as it is, again when
 * it changed since the last import (a long-running scheduler sees edits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { TaskFailure, errorMessage } from '../engine/errors.js';
import type { TaskContext } from '../engine/interfaces.js';
import { defineOperator } from '../engine/operator.js';

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);
const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

const NOT_RETRIED = { retryable: false, notRetriedBecause: 'the task parameters or the module need fixing' };

export const FunctionOperator = defineOperator({
  name: 'Function',
  description: 'Calls a function exported by a .ts/.js module of the project with the TaskContext (Airflow PythonOperator)',
  params: z
    .object({
      module: z
        .string()
        .regex(/\.(m|c)?(t|j)s$/, { message: 'must be a .ts, .mts, .cts, .js, .mjs or .cjs file' })
        .describe('the module, relative to the project root, e.g. tasks/export.ts (TypeScript runs without a build)'),
      export: z
        .string()
        .regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/, { message: 'must be the name of an export (an identifier)' })
        .default('default')
        .describe('the exported function to call, e.g. exportUsers (default: the default export): (ctx) => outputs'),
      args: z
        .unknown()
        .optional()
        .describe('any value the function reads as ctx.params.args (strings inside it are Liquid templates)'),
    })
    .strict(),
  templated: ['args'],
  async execute(ctx) {
    const { params, log } = ctx;
    const file = ctx.resolvePath(params.module);
    const fn = await loadExport(file, params.module, params.export);
    log.info({ module: params.module, export: params.export }, `calling ${params.export} from ${params.module}`);
    const returned: unknown = await fn(ctx);
    const outputs = asOutputs(returned, params.module, params.export);
    if (outputs) ctx.record(outputs);
  },
});

export type TaskFunction = (ctx: TaskContext<unknown>) => unknown;

/** The exported function, or a TaskFailure naming the module and what to fix (Branch calls functions too). */
export async function loadExport(file: string, shown: string, name: string): Promise<TaskFunction> {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new TaskFailure(`module ${shown} not found (looked at ${file}); paths are relative to the project root`, NOT_RETRIED);
  }
  const ext = path.extname(file);
  const url = pathToFileURL(file).href;
  let mod: Record<string, unknown>;
  try {
    if (TS_EXTENSIONS.has(ext)) {
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    } else if (JS_EXTENSIONS.has(ext)) {
      mod = (await import(`${url}?mtime=${stat.mtimeMs}`)) as Record<string, unknown>;
    } else {
      throw new TaskFailure(`module ${shown} is not a .ts or .js file`, NOT_RETRIED);
    }
  } catch (err) {
    if (err instanceof TaskFailure) throw err;
    throw new TaskFailure(`module ${shown} could not be loaded: ${errorMessage(err)}`, { ...NOT_RETRIED, cause: err });
  }
  const fn = exportOf(mod, name);
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).filter((k) => typeof exportOf(mod, k) === 'function');
    throw new TaskFailure(
      `module ${shown} has no exported function '${name}'` +
        (fn === undefined ? '' : ` (it exports a ${typeof fn})`) +
        `; its exported functions: ${names.join(', ') || 'none'}. Set export: to one of them`,
      NOT_RETRIED,
    );
  }
  return fn as TaskFunction;
}

/**
 * An export by name. A module compiled as CommonJS (a .ts file outside an
 * ESM package) shows its exports under `default`: they are looked up there too.
 */
function exportOf(mod: Record<string, unknown>, name: string): unknown {
  if (typeof mod[name] === 'function') return mod[name];
  const inner = mod.default;
  if (inner && typeof inner === 'object' && typeof (inner as Record<string, unknown>)[name] === 'function') {
    return (inner as Record<string, unknown>)[name];
  }
  return mod[name];
}

/**
 * What a function's return value records: an object's keys as they are; any
 * other value (a number, a string, a list) as `return_value`; nothing for
 * undefined or null. It must be JSON (outputs are stored as JSON).
 */
function asOutputs(value: unknown, module: string, name: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new TaskFailure(
      `${module}: ${name} returned a value that is not JSON (${errorMessage(err)}): return plain objects, lists, ` +
        'strings, numbers and booleans',
      NOT_RETRIED,
    );
  }
  if (json === undefined) {
    throw new TaskFailure(`${module}: ${name} returned a ${typeof value}, which is not JSON: return a plain object`, NOT_RETRIED);
  }
  const parsed: unknown = JSON.parse(json);
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  return { return_value: parsed };
}
