import { expect } from 'chai';
import { z } from 'zod';
import { defineOperator } from '../../../engine/operator.js';
import { dagJsonSchema } from '../../../engine/dag/index.js';
import { testRegistry } from './helpers.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an arbitrary JSON Schema
type Json = Record<string, any>;

describe('dagJsonSchema', () => {
  const registry = testRegistry().register(
    defineOperator({
      name: 'Odd',
      description: 'an operator whose params are not a plain object schema',
      params: z.object({ a: z.string() }).and(z.object({ b: z.number().optional() })),
      async execute() {},
    }),
  );
  const schema = dagJsonSchema(registry) as Json;
  const text = JSON.stringify(schema);

  it('is valid JSON naming every operator', () => {
    expect(() => JSON.parse(text)).to.not.throw();
    for (const name of registry.names()) expect(text).to.include(JSON.stringify(name));
    expect(schema.$schema).to.match(/json-schema\.org/);
  });

  it('describes the top-level keys and forbids others', () => {
    expect(schema.type).to.equal('object');
    expect(schema.required).to.deep.equal(['dag', 'tasks']);
    expect(schema.additionalProperties).to.equal(false);
    expect(Object.keys(schema.properties)).to.include.members([
      'dag',
      'schedule',
      'timezone',
      'start_date',
      'default_args',
      'tasks',
    ]);
  });

  it('gives one task alternative per operator, keyed by an operator const, with the engine task keys', () => {
    const alternatives = (schema.properties.tasks.additionalProperties.anyOf ??
      schema.properties.tasks.additionalProperties.oneOf) as Json[];
    expect(alternatives).to.have.length(3);
    const load = alternatives.find((a) => a.properties?.operator?.const === 'Load')!;
    expect(load.properties.operator.const).to.equal('Load');
    expect(Object.keys(load.properties)).to.include.members([
      'table',
      'count',
      'mode',
      'upstream',
      'retries',
      'retry_delay',
      'trigger_rule',
      'doc',
    ]);
    expect(load.required).to.include.members(['operator', 'table', 'count']);
    expect(load.additionalProperties).to.equal(false);
    expect(text).to.include('"const":"Odd"');
  });
});
