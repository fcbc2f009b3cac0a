/**
 * The DAG file loader: YAML with positions -> zod validation (DAG schema plus
 * each operator's own parameter schema) -> graph checks -> a `Dag`.
 *
 * Every problem in a file is collected and thrown as one DagFileError whose
 * problems point at `file:line:col` and name the field path.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar } from 'yaml';
import type { z } from 'zod';
import { DagFileError, errorMessage, type DagProblem } from '../errors.js';
import { ALERT_EVENTS } from '../interfaces.js';
import type { AlertEvent, AlertHooks, AlertSpec, Dag, OperatorDef, SourcePos, TaskSpec, TriggerRule } from '../interfaces.js';
import type { OperatorRegistry } from '../registry.js';
import { downstreamOf, findCycles, topoOrder } from './graph.js';
import { alertKnownKeys } from './alerts.js';
import {
  DAG_KEYS,
  dagFileSchema,
  DEFAULT_ARGS_KEYS,
  ID_HINT,
  ID_PATTERN,
  paramKeys,
  TASK_KEYS,
  taskKeysSchema,
} from './schema.js';
import { dagFiles } from './folder.js';
import { DagSource, formatPath, isPlainObject, type PathKey } from './source.js';
import { paramDefaults, paramSpecs } from './params.js';
import { didYouMean } from './suggest.js';
import { checkTaskTemplates, transitiveUpstream } from './templates.js';
import { dagCacheOf, fileStamp, type SqlRead } from './cache.js';
import { canonicalTimeZone, parseDagDate } from './time.js';

export interface LoadOptions {
  /** The name used in error positions and `Dag.file` (default: the path as given). */
  displayName?: string;
}

/** Built-in task defaults (Airflow's): used when neither the task nor default_args sets a value. */
export const TASK_DEFAULTS = {
  retries: 0,
  retryDelayMs: 5 * 60_000,
  retryExponentialBackoff: false,
  maxRetryDelayMs: null,
  executionTimeoutMs: null,
  triggerRule: 'all_success' as TriggerRule,
  queue: 'default',
} as const;

/** Where each loaded DAG's `dag:` id is written (for cross-file duplicate errors). */
const idPositions = new WeakMap<Dag, SourcePos>();

/** Reads and loads one DAG file; throws DagFileError listing every problem in it. */
export function loadDagFile(file: string, registry: OperatorRegistry, opts: LoadOptions = {}): Dag {
  const name = opts.displayName ?? file;
  const cache = dagCacheOf(registry);
  if (cache) {
    const hit = cache.get(file, name);
    if (hit && 'dag' in hit) {
      if (hit.idPos) idPositions.set(hit.dag, hit.idPos);
      return hit.dag;
    }
    if (hit) throw new DagFileError(name, hit.problems);
  }
  // Stamped before reading: a change while it is read leaves a stamp that no longer matches.
  const stamp = cache ? fileStamp(file) : null;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DagFileError(name, [
      { pos: { file: name, line: 1, col: 1 }, path: '', message: `cannot read the DAG file: ${errorMessage(err)}` },
    ]);
  }
  if (!cache) return loadDagSource(text, name, registry);
  const reads: SqlRead[] = [];
  let dag: Dag;
  try {
    dag = loadSource(text, name, registry, reads);
  } catch (err) {
    if (err instanceof DagFileError) cache.put(file, name, stamp, reads, { problems: err.problems });
    throw err;
  }
  cache.put(file, name, stamp, reads, { dag, idPos: idPositions.get(dag) });
  return dag;
}

/**
 * Loads every *.yaml / *.yml file under `dir` (recursively, skipping dot
 * folders), in path order. A bad file never hides the others. A DAG id used
 * by two files is an error in the later file that names the earlier one; the
 * earlier DAG is kept. A folder that is missing or unreadable throws
 * DagsFolderError (naming it and the settings that choose it).
 */
export function loadDagsDir(dir: string, registry: OperatorRegistry): { dags: Dag[]; errors: DagFileError[] } {
  const dags: Dag[] = [];
  const errors: DagFileError[] = [];
  const byId = new Map<string, Dag>();
  for (const file of dagFiles(dir)) {
    try {
      const dag = loadDagFile(file, registry);
      const first = byId.get(dag.id);
      if (first) {
        const at = idPositions.get(first);
        const where = at ? `${at.file}:${at.line}:${at.col}` : first.file;
        errors.push(
          new DagFileError(file, [
            {
              pos: idPositions.get(dag) ?? { file, line: 1, col: 1 },
              path: 'dag',
              message: `dag id '${dag.id}' is already defined in ${where}; DAG ids must be unique: rename the DAG in ${file} or in ${first.file}`,
            },
          ]),
        );
        continue;
      }
      byId.set(dag.id, dag);
      dags.push(dag);
    } catch (err) {
      if (err instanceof DagFileError) errors.push(err);
      else errors.push(new DagFileError(file, [{ pos: { file, line: 1, col: 1 }, path: '', message: errorMessage(err) }]));
    }
  }
  return { dags, errors };
}

/** Loads a DAG from YAML text; `file` names it in positions and `Dag.file`. */
export function loadDagSource(src: string, file: string, registry: OperatorRegistry): Dag {
  return loadSource(src, file, registry);
}

/** loadDagSource, recording the `.sql` files its templates were checked in (for the cache) in `reads`. */
function loadSource(src: string, file: string, registry: OperatorRegistry, reads?: SqlRead[]): Dag {
  const source = new DagSource(file, src);
  const problems = new Problems(source);
  const binary = source.binaryProblem();
  if (binary) {
    problems.list.push(binary);
    problems.throwIfAny();
  }
  problems.list.push(...source.yamlProblems());
  // Duplicate keys still leave a usable document; other syntax errors do not.
  if (source.doc.errors.some((e) => e.code !== 'DUPLICATE_KEY')) problems.throwIfAny();

  const root = source.doc.contents;
  if (!isMap(root)) {
    const what = root == null ? 'the file is empty' : `the file holds ${describeValue(source.doc.toJS())}`;
    problems.add([], `${what}; a DAG file must be a mapping with at least \`dag:\` and \`tasks:\` keys`);
    problems.throwIfAny();
  }
  const raw = source.doc.toJS() as Record<string, unknown>;

  const top = dagFileSchema.safeParse(raw, { error: defaultMessage });
  if (!top.success) {
    const knownKeys = (p: PathKey[]) =>
      p.length === 0 ? DAG_KEYS : p.length === 1 && p[0] === 'default_args' ? DEFAULT_ARGS_KEYS : alertKnownKeys(p);
    problems.addIssues(top.error.issues, [], raw, knownKeys);
  }

  const tasks = loadTasks(source, raw.tasks, registry, problems);

  // Dates are checked even when other keys have problems (bad ones were reported above).
  const timezone = (typeof raw.timezone === 'string' && canonicalTimeZone(raw.timezone)) || 'UTC';
  const startDate = dateOrNull(raw.start_date, timezone);
  const endDate = dateOrNull(raw.end_date, timezone);
  if (startDate && endDate && endDate < startDate) {
    problems.add(
      ['end_date'],
      `end_date ${endDate.toISOString()} is before start_date ${startDate.toISOString()}; move end_date after start_date or remove it`,
    );
  }
  // Params and templates: what would otherwise fail only when a task renders.
  const params = paramSpecs(isPlainObject(raw.params) ? raw.params : {}, (name) => source.pos(['params', name]));
  if (typeof raw.schedule === 'string') {
    for (const [name, p] of Object.entries(params)) {
      if (p.hasDefault) continue;
      problems.add(
        ['params', name],
        `param '${name}' has no default but the DAG has a schedule: scheduled runs have no --conf to set it (as in Airflow); give it a default, or make the DAG manual-only (schedule: null)`,
      );
    }
  }
  const upstreamOf = new Map(tasks.map((t) => [t.id, t.upstream]));
  for (const t of tasks) {
    const op = registry.get(t.keys.operator);
    if (!op) continue;
    const scope = { taskId: t.id, upstream: transitiveUpstream(t.id, (id) => upstreamOf.get(id)) };
    for (const p of checkTaskTemplates(op, t.params, Object.keys(params), file, reads, scope))
      problems.add(['tasks', t.id, ...p.path], p.message);
  }
  checkPoolSlots(tasks, isPlainObject(raw.default_args) ? raw.default_args : {}, problems);
  problems.throwIfAny();
  const d = top.data!;

  const defaults = d.default_args ?? {};
  const specs = new Map<string, TaskSpec>();
  for (const t of tasks) {
    const pick = <K extends keyof typeof defaults>(k: K) => (t.keys[k] !== undefined ? t.keys[k] : defaults[k]);
    specs.set(t.id, {
      id: t.id,
      operator: t.keys.operator,
      upstream: t.upstream,
      triggerRule: pick('trigger_rule') ?? TASK_DEFAULTS.triggerRule,
      retries: pick('retries') ?? TASK_DEFAULTS.retries,
      retryDelayMs: pick('retry_delay') ?? TASK_DEFAULTS.retryDelayMs,
      retryExponentialBackoff: pick('retry_exponential_backoff') ?? TASK_DEFAULTS.retryExponentialBackoff,
      maxRetryDelayMs: pick('max_retry_delay') ?? TASK_DEFAULTS.maxRetryDelayMs,
      executionTimeoutMs: pick('execution_timeout') ?? TASK_DEFAULTS.executionTimeoutMs,
      queue: pick('queue') ?? TASK_DEFAULTS.queue,
      ...poolOf(pick('pool'), pick('pool_slots')),
      alerts: alertHooks({
        on_failure: pick('on_failure'),
        on_retry: pick('on_retry'),
        on_success: pick('on_success'),
        on_dq_warning: pick('on_dq_warning'),
      }),
      params: t.params,
      pos: t.pos,
    });
  }
  const ids = [...specs.keys()];
  const upstream = new Map(ids.map((id) => [id, specs.get(id)!.upstream]));
  const dag: Dag = {
    id: d.dag,
    file,
    description: d.description ?? '',
    schedule: d.schedule == null ? null : d.schedule.trim(),
    timezone,
    startDate,
    endDate,
    catchup: d.catchup ?? false,
    maxActiveRuns: d.max_active_runs ?? 16,
    maxActiveTasks: d.max_active_tasks ?? 16,
    params: paramDefaults(params),
    paramSpecs: params,
    tags: d.tags ?? [],
    tasks: specs,
    downstream: downstreamOf(ids, upstream),
    order: topoOrder(ids, upstream),
    alerts: alertHooks(d),
  };
  idPositions.set(dag, source.pos(['dag']));
  return dag;
}

type TaskKeys = z.output<typeof taskKeysSchema>;

const POOL_SLOTS_ALONE =
  'pool_slots needs a pool: name the pool whose slots the tries hold (pool: NAME; see sluice pools list), or remove pool_slots';

/** pool_slots without a pool would limit nothing: said where it is written. */
function checkPoolSlots(tasks: LoadedTask[], defaults: Record<string, unknown>, problems: Problems): void {
  for (const t of tasks) {
    if (t.keys.pool_slots !== undefined && t.keys.pool === undefined && defaults.pool === undefined)
      problems.add(['tasks', t.id, 'pool_slots'], POOL_SLOTS_ALONE);
  }
  if (defaults.pool_slots !== undefined && defaults.pool === undefined && !tasks.some((t) => t.keys.pool !== undefined))
    problems.add(['default_args', 'pool_slots'], POOL_SLOTS_ALONE);
}

/** A task's pool keys as TaskSpec holds them: none without a pool. */
function poolOf(pool: string | undefined, slots: number | undefined): Pick<TaskSpec, 'pool' | 'poolSlots'> {
  return pool === undefined ? {} : { pool, poolSlots: slots ?? 1 };
}

/** The alert lists that are set and not empty (an empty list switches off what default_args gives); undefined: none. */
function alertHooks(keys: Partial<Record<AlertEvent, AlertSpec[] | undefined>>): AlertHooks | undefined {
  const out: AlertHooks = {};
  for (const e of ALERT_EVENTS) if (keys[e]?.length) out[e] = keys[e];
  return Object.keys(out).length ? out : undefined;
}

interface LoadedTask {
  id: string;
  keys: TaskKeys;
  upstream: string[];
  params: Record<string, unknown>;
  pos: SourcePos;
}

/**
 * Validates every task (engine keys, then the operator's parameters), then
 * the graph: unknown or self upstreams, duplicates, cycles. Returns the tasks
 * that validated; problems go to `problems`.
 */
function loadTasks(source: DagSource, rawTasks: unknown, registry: OperatorRegistry, problems: Problems): LoadedTask[] {
  const tasksNode = source.node(['tasks']);
  if (!isMap(tasksNode) || !isPlainObject(rawTasks)) return [];
  if (tasksNode.items.length === 0) {
    problems.add(['tasks'], 'a DAG needs at least one task; add one under `tasks:` (e.g. `start: { operator: Empty }`)');
  }
  const loaded: LoadedTask[] = [];
  const upstreamOf = new Map<string, { ids: string[]; list: boolean }>();
  const ids: string[] = [];
  for (const pair of tasksNode.items) {
    if (!isScalar(pair.key)) continue;
    const id = String(pair.key.value);
    if (upstreamOf.has(id)) continue; // a duplicate key, already reported
    const path: PathKey[] = ['tasks', id];
    const keyPos = source.keyPos(['tasks'], id);
    if (!ID_PATTERN.test(id)) problems.add(path, `task id '${id}' is not valid; ${ID_HINT}`, keyPos);
    ids.push(id);

    const value = rawTasks[id];
    if (!isPlainObject(value)) {
      upstreamOf.set(id, { ids: [], list: true });
      problems.add(
        path,
        `task '${id}' must be a mapping with an \`operator:\` key and its parameters, not ${describeValue(value)}`,
      );
      continue;
    }
    const engine: Record<string, unknown> = {};
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) (TASK_KEYS.includes(k) ? engine : rest)[k] = v;

    const up = engine.upstream;
    const upIds = typeof up === 'string' ? [up] : Array.isArray(up) ? up.filter((u): u is string => typeof u === 'string') : [];
    upstreamOf.set(id, { ids: upIds, list: Array.isArray(up) });

    const keys = taskKeysSchema.safeParse(engine, { error: defaultMessage });
    if (!keys.success) problems.addIssues(keys.error.issues, path, engine, alertKnownKeys, registry);

    const opName = engine.operator;
    const op: OperatorDef | undefined = typeof opName === 'string' ? registry.get(opName) : undefined;
    if (typeof opName === 'string' && !op) {
      problems.add(
        [...path, 'operator'],
        `unknown operator '${opName}'${didYouMean(opName, registry.names(), `registered: ${registry.names().join(', ')}`)}`,
      );
    }
    let params: Record<string, unknown> | undefined;
    if (op) {
      const parsed = op.params.safeParse(rest, { error: defaultMessage });
      if (parsed.success) params = parsed.data as Record<string, unknown>;
      else {
        const own = paramKeys(op.params);
        problems.addIssues(
          parsed.error.issues,
          path,
          rest,
          (p) => (p.length === 0 ? [...own, ...TASK_KEYS] : undefined),
          registry,
          op.name,
          own,
        );
      }
    }
    if (keys.success && params) loaded.push({ id, keys: keys.data, upstream: [], params, pos: keyPos });
  }

  // Graph checks over every task, including ones with other problems.
  const known = new Set(ids);
  const edges = new Map<string, string[]>();
  for (const id of ids) {
    const { ids: ups, list } = upstreamOf.get(id)!;
    const good: string[] = [];
    ups.forEach((u, i) => {
      const at: PathKey[] = list ? ['tasks', id, 'upstream', i] : ['tasks', id, 'upstream'];
      if (u === id) problems.add(at, `task '${id}' lists itself as upstream; remove '${id}' from its upstream`);
      else if (!known.has(u)) {
        const others = ids.filter((x) => x !== id);
        problems.add(
          at,
          `unknown upstream task '${u}'${didYouMean(u, others, `upstream entries must be ids of tasks in this file: ${others.join(', ')}`)}`,
        );
      } else if (good.includes(u)) problems.add(at, `upstream task '${u}' is listed twice; remove the repeat`);
      else good.push(u);
    });
    edges.set(id, good);
  }
  for (const cycle of findCycles(ids, edges)) {
    const [first] = cycle;
    const last = cycle[cycle.length - 1]!;
    const { ids: ups, list } = upstreamOf.get(first!)!;
    const at: PathKey[] = list ? ['tasks', first!, 'upstream', ups.indexOf(last)] : ['tasks', first!, 'upstream'];
    problems.add(at, `cycle: ${[...cycle, first].join(' -> ')}; a DAG must not loop: remove one of these upstream links`);
  }
  for (const t of loaded) t.upstream = edges.get(t.id)!;
  return loaded;
}

/** Collects problems for one file. */
class Problems {
  readonly list: DagProblem[] = [];
  constructor(private readonly source: DagSource) {}

  add(path: readonly PathKey[], message: string, pos: SourcePos = this.source.pos(path)): void {
    this.list.push({ pos, path: formatPath(path), message });
  }

  /**
   * Turns zod issues into problems. `prefix` is where `data` sits in the file;
   * `known` gives the allowed keys of the mapping at a path (for suggestions).
   * With `operator`, unknown keys are reported as that operator's parameters.
   */
  addIssues(
    issues: readonly z.core.$ZodIssue[],
    prefix: PathKey[],
    data: unknown,
    known: (path: PathKey[]) => string[] | undefined,
    registry?: OperatorRegistry,
    operator?: string,
    operatorKeys: string[] = [],
  ): void {
    for (const issue of issues) {
      const rel = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
      const path = [...prefix, ...rel];
      if (issue.code === 'unrecognized_keys') {
        const allowed = known(rel);
        for (const key of issue.keys) {
          let message: string;
          if (operator && rel.length === 0) {
            const keys = `its parameters: ${operatorKeys.join(', ') || '(none)'}; task keys: ${TASK_KEYS.join(', ')}`;
            message = `unknown parameter '${key}' for operator ${operator}${didYouMean(key, allowed ?? [], keys)}`;
          } else {
            message = `unknown key '${key}'${didYouMean(key, allowed ?? [], allowed ? `allowed keys: ${allowed.join(', ')}` : 'remove it')}`;
          }
          this.add([...path, key], message, this.source.keyPos(path, key));
        }
        continue;
      }
      if (issue.code === 'invalid_type' && valueAt(data, rel) === undefined && rel.length > 0) {
        const key = String(rel[rel.length - 1]);
        this.add(path, missingMessage(key, issue.expected, registry, operator), this.source.pos(path.slice(0, -1)));
        continue;
      }
      this.add(path, issue.message);
    }
  }

  /** Throws a DagFileError with every problem, in file order, if there is any. */
  throwIfAny(): void {
    if (!this.list.length) return;
    this.list.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
    throw new DagFileError(this.source.file, this.list);
  }
}

/** The message for a required key that is absent. */
function missingMessage(key: string, expected: string, registry?: OperatorRegistry, operator?: string): string {
  if (key === 'dag') return "missing required key 'dag': add `dag: <id>` naming the DAG";
  if (key === 'tasks') return "missing required key 'tasks': add a `tasks:` mapping of task id -> { operator: ..., ... }";
  if (key === 'operator' && !operator) {
    return `missing required key 'operator': add \`operator: <name>\`; registered operators: ${registry?.names().join(', ') ?? ''}`;
  }
  const noun = operator ? `parameter '${key}' of operator ${operator}` : `key '${key}'`;
  return `missing required ${noun}: add \`${key}:\` with ${typeName(expected)}`;
}

/** Default zod messages that say what was expected and what was found. */
function defaultMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') return `must be ${typeName(iss.expected)}, not ${describeValue(iss.input)}`;
  if (iss.code === 'invalid_value') {
    const values = iss.values.map((v) => String(v));
    const hint = typeof iss.input === 'string' ? didYouMean(iss.input, values) : '';
    return `must be one of ${values.join(', ')}, not ${describeValue(iss.input)}${hint}`;
  }
  return undefined;
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    int: 'an integer',
    boolean: 'true or false',
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
    date: 'a date',
    null: 'null',
  };
  return names[expected] ?? expected;
}

/** A short description of a YAML value for messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'an empty value';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Date) return `the date ${v.toISOString()}`;
  return 'a mapping';
}

/** A start/end date, or null when absent or invalid (zod reports invalid ones). */
function dateOrNull(v: unknown, tz: string): Date | null {
  if (!(typeof v === 'string' || v instanceof Date)) return null;
  try {
    return parseDagDate(v, tz);
  } catch {
    return null;
  }
}

function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let cur = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k as string];
  }
  return cur;
}
