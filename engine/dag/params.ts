/**
 * DAG params, as Airflow's `Param(default, type=..., minimum=...)` in YAML.
 *
 *   params:
 *     target: auto                     # a plain value: the default; its type (string) is inferred
 *     limit:                           # a declaration: JSON Schema keywords and a default
 *       type: integer
 *       minimum: 1
 *       default: 10
 *       description: rows per batch
 *
 * A value is a declaration when it is a mapping with `type` or `default`, or
 * one made only of the keywords below. A run's `--conf` may set declared
 * params only, and each value is checked against its schema before any task
 * renders (validateConf); defaults are checked when the DAG loads.
 */
import { z } from 'zod';
import { ParamValidationError } from '../errors.js';
import type { Dag, DagParam } from '../interfaces.js';
import { isPlainObject } from './source.js';
import { didYouMean } from './suggest.js';

/** The JSON Schema keywords a param declaration may use. */
export const PARAM_KEYWORDS = [
  'type',
  'default',
  'description',
  'title',
  'enum',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'format',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
] as const;

const PARAM_TYPES = ['string', 'integer', 'number', 'boolean', 'array', 'object', 'null'] as const;
const PARAM_FORMATS = ['date', 'date-time', 'time', 'email', 'uri', 'uuid'] as const;

const nonNegative = z.number().int().min(0);
const typeName = z.enum(PARAM_TYPES, { error: `must be one of ${PARAM_TYPES.join(', ')}` });

/** The keywords' own types (an `items` schema is checked as a mapping only). */
const declarationSchema = z.object({
  type: z
    .union([typeName, z.array(typeName).min(1)], { error: `must be one of ${PARAM_TYPES.join(', ')}, or a list of them` })
    .optional(),
  default: z.unknown().optional(),
  description: z.string().optional(),
  title: z.string().optional(),
  enum: z.array(z.unknown()).min(1).optional(),
  const: z.unknown().optional(),
  minimum: z.number().optional(),
  maximum: z.number().optional(),
  exclusiveMinimum: z.number().optional(),
  exclusiveMaximum: z.number().optional(),
  multipleOf: z.number().positive().optional(),
  minLength: nonNegative.optional(),
  maxLength: nonNegative.optional(),
  pattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p, 'u');
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  format: z.enum(PARAM_FORMATS, { error: `must be one of ${PARAM_FORMATS.join(', ')}` }).optional(),
  items: z.record(z.string(), z.unknown()).optional(),
  minItems: nonNegative.optional(),
  maxItems: nonNegative.optional(),
  uniqueItems: z.boolean().optional(),
});

/** Whether a `params:` value declares a param (rather than being a plain default value). */
export function isDeclaration(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if ('type' in v || 'default' in v) return true;
  return keys.length > 0 && keys.every((k) => (PARAM_KEYWORDS as readonly string[]).includes(k));
}

/** The JSON type of a plain default, as its inferred schema. */
function inferredSchema(v: unknown): Record<string, unknown> {
  if (typeof v === 'string') return { type: 'string' };
  if (typeof v === 'number') return { type: 'number' };
  if (typeof v === 'boolean') return { type: 'boolean' };
  if (Array.isArray(v)) return { type: 'array' };
  if (isPlainObject(v)) return { type: 'object' };
  return {}; // null: any value
}

/** name -> schema (JSON Schema keywords, without default) and default, from the raw `params:` mapping. */
export function paramSpecs(raw: Record<string, unknown>, pos: (name: string) => DagParam['pos']): Record<string, DagParam> {
  const out: Record<string, DagParam> = {};
  for (const [name, v] of Object.entries(raw)) {
    if (isDeclaration(v)) {
      const { default: def, ...schema } = v;
      out[name] = { schema, hasDefault: 'default' in v, ...('default' in v ? { default: def } : {}), pos: pos(name) };
    } else {
      out[name] = { schema: inferredSchema(v), hasDefault: true, default: v, pos: pos(name) };
    }
  }
  return out;
}

/** The defaults of the params that have one (what `{{ params.x }}` sees without --conf). */
export function paramDefaults(specs: Record<string, DagParam>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(specs)
      .filter(([, p]) => p.hasDefault)
      .map(([k, p]) => [k, p.default]),
  );
}

/**
 * The zod schema of the `params:` key: any mapping, whose declarations must
 * use known keywords of the right types, and whose defaults must fit.
 */
export const paramsSchema = z
  .record(z.string(), z.unknown())
  .superRefine((params, ctx) => {
    for (const [name, v] of Object.entries(params)) {
      if (!isDeclaration(v)) continue;
      for (const key of Object.keys(v)) {
        if ((PARAM_KEYWORDS as readonly string[]).includes(key)) continue;
        ctx.addIssue({
          code: 'custom',
          path: [name, key],
          message: `unknown keyword '${key}' in the declaration of param '${name}'${didYouMean(key, PARAM_KEYWORDS, `param keywords: ${PARAM_KEYWORDS.join(', ')}`)}`,
        });
      }
      const parsed = declarationSchema.safeParse(v);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          if (issue.code === 'unrecognized_keys') continue;
          ctx.addIssue({ code: 'custom', path: [name, ...(issue.path as (string | number)[])], message: issue.message });
        }
        continue;
      }
      const d = parsed.data;
      if (d.minimum !== undefined && d.maximum !== undefined && d.minimum > d.maximum) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'maximum'],
          message: `maximum (${d.maximum}) is smaller than minimum (${d.minimum})`,
        });
      }
      if ('default' in v) {
        const { default: def, ...schema } = v;
        const problem = paramValueProblem(def, schema);
        if (problem)
          ctx.addIssue({ code: 'custom', path: [name, 'default', ...problem.path], message: `the default ${problem.message}` });
      }
    }
  })
  .describe(
    "template parameters ({{ params.x }}), overridden by a run's --conf: a plain value (its type is inferred), or a declaration with JSON Schema keywords, e.g. { type: integer, minimum: 1, default: 10 }",
  );

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'null',
};

function show(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
    return `the string ${s}`;
  }
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${String(v)}`;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * What is wrong with `value` for a param schema, or null when it fits. The
 * type, enum and const are checked here (for plain messages); the other
 * keywords by zod's JSON Schema reader.
 */
export function paramValueProblem(
  value: unknown,
  schema: Record<string, unknown>,
): { path: (string | number)[]; message: string } | null {
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
  if (types.length) {
    const t = jsonType(value);
    const fits = types.includes(t) || (t === 'integer' && types.includes('number'));
    if (!fits) return { path: [], message: `must be ${types.map((x) => TYPE_WORDS[x] ?? x).join(' or ')}, not ${show(value)}` };
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => sameJson(e, value))) {
    return { path: [], message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}, not ${show(value)}` };
  }
  if ('const' in schema && !sameJson(schema.const, value)) {
    return { path: [], message: `must be ${JSON.stringify(schema.const)}, not ${show(value)}` };
  }
  let check: z.ZodType;
  try {
    check = z.fromJSONSchema(schema as never);
  } catch {
    return null; // keyword types were checked by declarationSchema; nothing more to say
  }
  const r = check.safeParse(value);
  if (r.success) return null;
  const issue = r.error.issues[0]!;
  return { path: issue.path as (string | number)[], message: issueMessage(issue, schema) };
}

function issueMessage(issue: z.core.$ZodIssue, schema: Record<string, unknown>): string {
  const i = issue as z.core.$ZodIssue & {
    minimum?: unknown;
    maximum?: unknown;
    inclusive?: boolean;
    origin?: string;
    format?: string;
    divisor?: number;
  };
  const unit = i.origin === 'string' ? ' characters' : i.origin === 'array' ? ' items' : '';
  switch (issue.code) {
    case 'too_small':
      return unit
        ? `must have at least ${String(i.minimum)}${unit}`
        : `must be ${i.inclusive === false ? '>' : '>='} ${String(i.minimum)}`;
    case 'too_big':
      return unit
        ? `must have at most ${String(i.maximum)}${unit}`
        : `must be ${i.inclusive === false ? '<' : '<='} ${String(i.maximum)}`;
    case 'not_multiple_of':
      return `must be a multiple of ${i.divisor}`;
    case 'invalid_format':
      if (schema.format === 'date') return 'must be a date: YYYY-MM-DD, e.g. 2018-11-21';
      if (schema.format === 'date-time') return 'must be a date and time in ISO 8601, e.g. 2018-11-21T00:00:00Z';
      if (schema.format === 'time') return 'must be a time with an offset, e.g. 06:00:00Z';
      if (i.format === 'regex' && typeof schema.pattern === 'string') return `must match the pattern ${schema.pattern}`;
      return `must be a valid ${schema.format ?? i.format}`;
    case 'invalid_value':
      return `must be one of ${(issue as { values: unknown[] }).values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_type':
      return `must be ${TYPE_WORDS[String((issue as { expected?: string }).expected)] ?? String((issue as { expected?: string }).expected)}`;
    default:
      return issue.message.replace(/^Invalid input: /, '');
  }
}

/**
 * Checks a run's `--conf` against the DAG's params before anything renders:
 * every key must be a declared param and every value must fit its schema;
 * params without a default must be given. Throws a ParamValidationError (exit 2)
 * naming each param with its place in the DAG file. `partial`: a conf that
 * may leave required params unset (a rerun keeping its run's conf).
 */
export function validateConf(dag: Dag, conf: Record<string, unknown>, opts: { partial?: boolean } = {}): Record<string, unknown> {
  const specs =
    dag.paramSpecs ??
    Object.fromEntries(
      Object.entries(dag.params).map(([k, v]) => [
        k,
        { schema: {}, hasDefault: true, default: v, pos: { file: dag.file, line: 1, col: 1 } },
      ]),
    );
  const names = Object.keys(specs);
  const problems: string[] = [];
  for (const key of Object.keys(conf)) {
    if (key in specs) continue;
    problems.push(
      names.length
        ? `unknown param '${key}'${didYouMean(key, names, `DAG ${dag.id} declares: ${names.join(', ')}`)} (${dag.file}); declare it under \`params:\` to accept it`
        : `unknown param '${key}': DAG ${dag.id} declares no params (${dag.file}); --conf keys must be params declared under \`params:\` in the DAG file`,
    );
  }
  for (const [name, spec] of Object.entries(specs)) {
    const where = `${spec.pos.file}:${spec.pos.line}:${spec.pos.col}: params.${name}`;
    if (!(name in conf)) {
      if (!spec.hasDefault && !opts.partial)
        problems.push(`${where}: required (it has no default): pass it, e.g. --conf '{"${name}": ...}'`);
      continue;
    }
    const problem = paramValueProblem(conf[name], spec.schema);
    if (problem) {
      const sub = problem.path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
      problems.push(`${where}${sub}: --conf value ${problem.message}`);
    }
  }
  if (problems.length) {
    throw new ParamValidationError(`--conf does not fit the params of DAG ${dag.id}:\n  ${problems.join('\n  ')}`);
  }
  return conf;
}
