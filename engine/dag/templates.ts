/**
 * Static checks of a DAG's templates, so that `sluice dags validate` finds
 * what would otherwise fail only when a task renders: unknown variables
 * (`{{ logical_dat }}`), undeclared params (`{{ params.limt }}`), syntax
 * errors and unknown filters, in templated fields and in the `.sql` files
 * they name; `{{ outputs.<task_id>... }}` of a task that is not upstream. Liquid's own static analysis lists the variables a template
 * reads; nothing is rendered.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { findProjectFile } from '../config.js';
import { errorMessage } from '../errors.js';
import type { OperatorDef } from '../interfaces.js';
import { isSqlFileRef, TEMPLATE_VARIABLES, templateFilters, templateVariables } from '../template/index.js';
import type { PathKey } from './source.js';
import { didYouMean } from './suggest.js';
import { fileStamp, type SqlRead } from './cache.js';

/** One problem found in a task's templates; `path` is the field inside the task. */
export interface TemplateProblem {
  path: PathKey[];
  message: string;
}

const KNOWN = TEMPLATE_VARIABLES.join(', ');

/** The task whose templates are checked, for `{{ outputs.<task_id>.<key> }}`: its id and its upstream closure. */
export interface OutputScope {
  taskId: string;
  /** Direct and transitive upstream task ids: the tasks whose outputs it may read. */
  upstream: ReadonlySet<string>;
}

/** Every task `taskId` depends on, directly or through others (the tasks that finish before it starts). */
export function transitiveUpstream(taskId: string, upstreamOf: (id: string) => readonly string[] | undefined): Set<string> {
  const seen = new Set<string>();
  const work = [...(upstreamOf(taskId) ?? [])];
  while (work.length) {
    const id = work.pop()!;
    if (seen.has(id) || id === taskId) continue;
    seen.add(id);
    work.push(...(upstreamOf(id) ?? []));
  }
  return seen;
}

/** Why `{{ outputs.<name> }}` may not be read by the task of `scope`, or null when it may. */
function outputsProblem(name: string, scope: OutputScope, at: string): string | null {
  if (scope.upstream.has(name)) return null;
  const known = [...scope.upstream];
  const why =
    name === scope.taskId
      ? `a task cannot read its own outputs`
      : `task '${name}' is not upstream of '${scope.taskId}' (directly or through other tasks), so it may not have run yet`;
  return (
    `outputs.${name}${at}: ${why}; ` +
    (known.length
      ? `read the outputs of its upstream tasks (${known.join(', ')})${didYouMean(name, known)}, or add '${name}' to its upstream`
      : `it has no upstream tasks: add '${name}' to its upstream`)
  );
}

/** The problems of one template text; `inFile` names the SQL file it came from. */
function checkText(text: string, params: readonly string[], inFile: string | null, scope?: OutputScope): string[] {
  const where = inFile ? ` in ${inFile}` : '';
  let vars;
  try {
    vars = templateVariables(text);
  } catch (err) {
    const filter = /undefined filter: (\S+)/.exec(errorMessage(err))?.[1];
    return [`${errorMessage(err)}${where}${filter ? didYouMean(filter, templateFilters()) : ''}`];
  }
  const out = new Set<string>();
  for (const v of vars) {
    const at = inFile ? `${where} line ${v.line}` : '';
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(v.name)) {
      out.add(`unknown template variable '${v.name}'${at}${didYouMean(v.name, TEMPLATE_VARIABLES)} (known variables: ${KNOWN})`);
      continue;
    }
    const name = v.path[1];
    if (v.name === 'outputs') {
      // `outputs[x]` with a variable x cannot be checked before the run: the run's strict render catches it.
      const problem = scope && typeof name === 'string' ? outputsProblem(name, scope, at) : null;
      if (problem) out.add(problem);
      continue;
    }
    if (v.name !== 'params' || typeof name !== 'string' || params.includes(name)) continue;
    out.add(
      params.length
        ? `unknown param '${name}' (params.${name})${at}${didYouMean(name, params)} (declared params: ${params.join(', ')}); declare it under \`params:\``
        : `unknown param '${name}' (params.${name})${at}: the DAG declares no params; declare it under \`params:\``,
    );
  }
  return [...out];
}

/**
 * Checks every templated field of a task (strings inside lists and mappings
 * too) and the SQL files they reference.
 */
export function checkTaskTemplates(
  op: OperatorDef,
  params: Record<string, unknown>,
  declaredParams: readonly string[],
  dagFile: string,
  reads?: SqlRead[],
  scope?: OutputScope,
): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const walk = (value: unknown, at: PathKey[]) => {
    if (typeof value === 'string') {
      let messages: string[];
      if (isSqlFileRef(value)) {
        // Where the runner finds it: the project folder (the parent of the DAG folder), else the shipped files.
        // Not found: the run reports it (validation cannot be sure where the DAG folder will be).
        const projectRoot = path.resolve(path.dirname(dagFile), '..');
        const file = findProjectFile(projectRoot, value);
        // Stamped before reading, as the DAG file is (see cache.ts).
        reads?.push({ projectRoot, ref: value, file, stamp: file ? fileStamp(file) : null });
        if (!file) return;
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch {
          return;
        }
        messages = checkText(text, declaredParams, value, scope);
      } else messages = checkText(value, declaredParams, null, scope);
      for (const message of messages) problems.push({ path: at, message });
    } else if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...at, i]));
    else if (value && typeof value === 'object' && !(value instanceof Date)) {
      for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
    }
  };
  for (const field of op.templated) if (params[field] !== undefined) walk(params[field], [field]);
  return problems;
}
