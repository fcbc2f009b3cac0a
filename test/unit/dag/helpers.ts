/** Test helpers for the DAG loader tests: a registry with test-only operators. */
import { expect } from 'chai';
import { z } from 'zod';
import { defineOperator } from '../../../engine/operator.js';
import { DagFileError, type DagProblem } from '../../../engine/errors.js';
import { loadDagSource } from '../../../engine/dag/index.js';
import { OperatorRegistry } from '../../../engine/registry.js';
import { Empty } from '../../../operators/empty.js';

/** A test-only operator with typed parameters. */
export const Load = defineOperator({
  name: 'Load',
  description: 'test operator: loads a table',
  params: z
    .object({ table: z.string(), count: z.number().int(), mode: z.enum(['append', 'truncate']).default('append') })
    .strict(),
  async execute() {},
});

/** The built-in operators plus Load. */
export function testRegistry(): OperatorRegistry {
  // A fixed set (not the built-ins, which grow), so messages listing operators stay exact.
  return new OperatorRegistry([Empty]).register(Load);
}

/** Loads `src` expecting a DagFileError; returns its problems. */
export function problemsOf(src: string, file = 'test.yaml'): DagProblem[] {
  try {
    loadDagSource(src, file, testRegistry());
  } catch (err) {
    expect(err).to.be.instanceOf(DagFileError);
    expect((err as DagFileError).file).to.equal(file);
    return (err as DagFileError).problems;
  }
  throw new Error('expected a DagFileError, but the DAG loaded');
}

/** The single problem of `src`. */
export function problemOf(src: string): DagProblem {
  const problems = problemsOf(src);
  expect(problems, problems.map((p) => p.message).join('\n')).to.have.length(1);
  return problems[0]!;
}

/** `line:col` of a problem. */
export function at(p: DagProblem): string {
  return `${p.pos.line}:${p.pos.col}`;
}

/** Joins lines into a YAML source ending with a newline. */
export function yaml(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}
