import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { DagFileError, formatProblem } from '../../../engine/errors.js';
import { loadDagFile, loadDagSource } from '../../../engine/dag/index.js';
import { at, problemOf, problemsOf, testRegistry, yaml } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/dags/${name}`, import.meta.url));

describe('dag loader', () => {
  describe('a valid file', () => {
    const src = yaml(
      'dag: demo', //                                   1
      'description: a demo', //                         2
      'schedule: "@daily"', //                          3
      'timezone: Europe/Berlin', //                     4
      'start_date: 2018-11-01', //                      5
      'end_date: "2018-11-30T06:00:00Z"', //            6
      'catchup: true', //                               7
      'max_active_runs: 1', //                          8
      'params: { region: us-west-2 }', //               9
      'tags: [sparkify, demo]', //                      10
      'default_args:', //                               11
      '  retries: 3', //                                12
      '  retry_delay: 1m', //                           13
      '  execution_timeout: 30m', //                    14
      'tasks:', //                                      15
      '  start:', //                                    16
      '    operator: Empty', //                         17
      '  load_b:', //                                   18
      '    operator: Load', //                          19
      '    upstream: start', //                         20
      '    table: b', //                                21
      '    count: 2', //                                22
      '    retries: 0', //                              23
      '  load_a:', //                                   24
      '    operator: Load', //                          25
      '    upstream: [start]', //                       26
      '    table: a', //                                27
      '    count: 1', //                                28
      '    mode: truncate', //                          29
      '    retry_exponential_backoff: true', //         30
      '    max_retry_delay: 1h', //                     31
      '    execution_timeout: null', //                 32
      '  end:', //                                      33
      '    operator: Empty', //                         34
      '    upstream: [load_a, load_b]', //              35
      '    trigger_rule: all_done', //                  36
      '    doc: the end', //                            37
    );
    const dag = loadDagSource(src, 'demo.yaml', testRegistry());

    it('reads the DAG settings', () => {
      expect(dag.id).to.equal('demo');
      expect(dag.file).to.equal('demo.yaml');
      expect(dag.description).to.equal('a demo');
      expect(dag.schedule).to.equal('@daily');
      expect(dag.timezone).to.equal('Europe/Berlin');
      expect(dag.catchup).to.equal(true);
      expect(dag.maxActiveRuns).to.equal(1);
      expect(dag.maxActiveTasks).to.equal(16);
      expect(dag.params).to.deep.equal({ region: 'us-west-2' });
      expect(dag.tags).to.deep.equal(['sparkify', 'demo']);
    });

    it('reads a date-only start_date as midnight in the DAG timezone, a Z datetime as UTC', () => {
      expect(dag.startDate?.toISOString()).to.equal('2018-10-31T23:00:00.000Z');
      expect(dag.endDate?.toISOString()).to.equal('2018-11-30T06:00:00.000Z');
    });

    it('applies default_args, task overrides and built-in defaults', () => {
      const start = dag.tasks.get('start')!;
      expect(start).to.deep.include({
        retries: 3,
        retryDelayMs: 60_000,
        retryExponentialBackoff: false,
        maxRetryDelayMs: null,
        executionTimeoutMs: 1_800_000,
        triggerRule: 'all_success',
        upstream: [],
        operator: 'Empty',
      });
      expect(dag.tasks.get('load_b')!.retries).to.equal(0);
      const a = dag.tasks.get('load_a')!;
      expect(a).to.deep.include({
        retries: 3,
        retryExponentialBackoff: true,
        maxRetryDelayMs: 3_600_000,
        executionTimeoutMs: null,
      });
      expect(dag.tasks.get('end')!.triggerRule).to.equal('all_done');
    });

    it("parses operator params with the operator's schema (defaults applied, engine keys removed)", () => {
      expect(dag.tasks.get('load_b')!.params).to.deep.equal({ table: 'b', count: 2, mode: 'append' });
      expect(dag.tasks.get('load_a')!.params).to.deep.equal({ table: 'a', count: 1, mode: 'truncate' });
      expect(dag.tasks.get('end')!.params).to.deep.equal({});
    });

    it('accepts upstream as a string or a list', () => {
      expect(dag.tasks.get('load_b')!.upstream).to.deep.equal(['start']);
      expect(dag.tasks.get('end')!.upstream).to.deep.equal(['load_a', 'load_b']);
    });

    it('records the position of each task key', () => {
      expect(dag.tasks.get('start')!.pos).to.deep.equal({ file: 'demo.yaml', line: 16, col: 3 });
      expect(dag.tasks.get('end')!.pos).to.deep.equal({ file: 'demo.yaml', line: 33, col: 3 });
    });

    it('keeps file order in tasks and a stable topological order', () => {
      expect([...dag.tasks.keys()]).to.deep.equal(['start', 'load_b', 'load_a', 'end']);
      expect(dag.order).to.deep.equal(['start', 'load_b', 'load_a', 'end']);
    });

    it('fills the downstream map for every task', () => {
      expect(Object.fromEntries(dag.downstream)).to.deep.equal({
        start: ['load_b', 'load_a'],
        load_b: ['end'],
        load_a: ['end'],
        end: [],
      });
    });
  });

  it('uses the documented defaults for a minimal file', () => {
    const dag = loadDagSource(yaml('dag: m', 'tasks:', '  only:', '    operator: Empty'), 'm.yaml', testRegistry());
    expect(dag).to.deep.include({
      description: '',
      schedule: null,
      timezone: 'UTC',
      startDate: null,
      endDate: null,
      catchup: false,
      maxActiveRuns: 16,
      maxActiveTasks: 16,
      tags: [],
    });
    expect(dag.params).to.deep.equal({});
    expect(dag.tasks.get('only')).to.deep.include({
      retries: 0,
      retryDelayMs: 300_000,
      retryExponentialBackoff: false,
      maxRetryDelayMs: null,
      executionTimeoutMs: null,
      triggerRule: 'all_success',
    });
  });

  it('orders ready tasks by file order, whatever the listing order of upstreams', () => {
    const dag = loadDagSource(
      yaml(
        'dag: o',
        'tasks:',
        '  z: { operator: Empty, upstream: [y, x] }',
        '  y: { operator: Empty, upstream: [b] }',
        '  x: { operator: Empty, upstream: [a] }',
        '  b: { operator: Empty }',
        '  a: { operator: Empty }',
      ),
      'o.yaml',
      testRegistry(),
    );
    expect(dag.order).to.deep.equal(['b', 'y', 'a', 'x', 'z']);
  });

  it('reads datetimes without an offset in the DAG timezone and with an offset as given', () => {
    const dag = loadDagSource(
      yaml(
        'dag: t',
        'timezone: America/New_York',
        'start_date: 2018-11-01 06:30',
        'end_date: 2018-12-01T00:00:00+01:00',
        'tasks: { a: { operator: Empty } }',
      ),
      't.yaml',
      testRegistry(),
    );
    expect(dag.startDate?.toISOString()).to.equal('2018-11-01T10:30:00.000Z');
    expect(dag.endDate?.toISOString()).to.equal('2018-11-30T23:00:00.000Z');
  });

  it('accepts a 5-field cron, presets and an explicit null schedule', () => {
    for (const schedule of ['"*/15 * * * *"', '"0 6 * * MON-FRI"', '"@hourly"', '"@once"', 'null']) {
      const dag = loadDagSource(
        yaml('dag: s', `schedule: ${schedule}`, 'tasks: { a: { operator: Empty } }'),
        's.yaml',
        testRegistry(),
      );
      expect(dag.schedule).to.equal(schedule === 'null' ? null : JSON.parse(schedule));
    }
  });

  it('loads a file from disk', () => {
    const dag = loadDagFile(fixture('sparkify.yaml'), testRegistry(), { displayName: 'dags/sparkify.yaml' });
    expect(dag.id).to.equal('sparkify_demo');
    expect(dag.file).to.equal('dags/sparkify.yaml');
    expect(dag.order[0]).to.equal('begin');
    expect(dag.order[dag.order.length - 1]).to.equal('end');
  });

  describe('errors', () => {
    it('reports a missing file as a DagFileError', () => {
      expect(() => loadDagFile('/nonexistent/x.yaml', testRegistry()))
        .to.throw(DagFileError)
        .with.property('message')
        .that.matches(/^\/nonexistent\/x\.yaml:1:1: cannot read the DAG file: .*ENOENT/);
    });

    it('YAML syntax error', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a: [Empty', 'b: 1'));
      expect(at(p)).to.equal('4:1');
      expect(p.message)
        .to.match(/^YAML syntax error: .*Flow sequence/)
        .and.match(/fix the YAML/);
    });

    it('YAML syntax error: unclosed quote', () => {
      const p = problemOf(yaml('dag: "x', 'tasks: {}'));
      expect(p.message).to.match(/Missing closing "quote/);
      expect(p.pos.file).to.equal('test.yaml');
    });

    it('duplicate task id points at the second one', () => {
      const problems = problemsOf(
        yaml('dag: x', 'tasks:', '  a:', '    operator: Empty', '  b:', '    operator: Empty', '  a:', '    operator: Empty'),
      );
      expect(problems).to.have.length(1);
      const [p] = problems;
      expect(formatProblem(p!)).to.equal(
        "test.yaml:7:3: tasks.a: duplicate task id 'a' (first defined at line 3); task ids must be unique within a DAG: rename or remove one",
      );
    });

    it('duplicate key elsewhere', () => {
      const p = problemOf(yaml('dag: x', 'catchup: true', 'catchup: false', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('3:1');
      expect(p.path).to.equal('catchup');
      expect(p.message).to.match(/^duplicate key 'catchup' \(first defined at line 2\)/);
    });

    it('a duplicate task id does not hide other problems', () => {
      const problems = problemsOf(
        yaml('dag: x', 'tasks:', '  a: { operator: Empty }', '  a: { operator: Empty }', '  b: { operator: Emtpy }'),
      );
      expect(problems.map(at)).to.deep.equal(['4:3', '5:18']);
    });

    it('unknown operator suggests the nearest registered name', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Emtpy'));
      expect(at(p)).to.equal('4:15');
      expect(p.path).to.equal('tasks.a.operator');
      expect(p.message).to.equal("unknown operator 'Emtpy'; did you mean 'Empty'? Registered: Empty, Load");
    });

    it('unknown operator far from any name lists the registered ones', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: StageToRedshift'));
      expect(p.message).to.equal("unknown operator 'StageToRedshift'; registered: Empty, Load");
    });

    it('unknown upstream suggests the nearest task id', () => {
      const p = problemOf(
        yaml(
          'dag: x',
          'tasks:',
          '  load_users: { operator: Empty }',
          '  check:',
          '    operator: Empty',
          '    upstream: [load_users, lod_user]',
        ),
      );
      expect(at(p)).to.equal('6:28');
      expect(p.path).to.equal('tasks.check.upstream[1]');
      expect(p.message).to.match(
        /^unknown upstream task 'lod_user'; did you mean 'load_users'\? Upstream entries must be ids of tasks/,
      );
    });

    it('unknown upstream given as a single string', () => {
      const p = problemOf(
        yaml('dag: x', 'tasks:', '  a: { operator: Empty }', '  b:', '    operator: Empty', '    upstream: zzz'),
      );
      expect(at(p)).to.equal('6:15');
      expect(p.path).to.equal('tasks.b.upstream');
    });

    it('a task listing itself upstream', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Empty', '    upstream: [a]'));
      expect(at(p)).to.equal('5:16');
      expect(p.message).to.equal("task 'a' lists itself as upstream; remove 'a' from its upstream");
    });

    it('an upstream listed twice', () => {
      const p = problemOf(
        yaml('dag: x', 'tasks:', '  a: { operator: Empty }', '  b:', '    operator: Empty', '    upstream: [a, a]'),
      );
      expect(at(p)).to.equal('6:19');
      expect(p.message).to.match(/listed twice/);
    });

    it('cycle printed as a -> b -> c -> a', () => {
      const p = problemOf(
        yaml(
          'dag: x',
          'tasks:',
          '  a:',
          '    operator: Empty',
          '    upstream: [start, c]',
          '  b:',
          '    operator: Empty',
          '    upstream: a',
          '  c:',
          '    operator: Empty',
          '    upstream: [b]',
          '  start:',
          '    operator: Empty',
        ),
      );
      expect(at(p)).to.equal('5:23');
      expect(p.path).to.equal('tasks.a.upstream[1]');
      expect(p.message).to.equal('cycle: a -> b -> c -> a; a DAG must not loop: remove one of these upstream links');
    });

    it('reports each of two separate cycles', () => {
      const problems = problemsOf(
        yaml(
          'dag: x',
          'tasks:',
          '  a: { operator: Empty, upstream: b }',
          '  b: { operator: Empty, upstream: a }',
          '  c: { operator: Empty, upstream: d }',
          '  d: { operator: Empty, upstream: c }',
        ),
      );
      expect(problems.map((p) => p.message.split(';')[0])).to.deep.equal(['cycle: a -> b -> a', 'cycle: c -> d -> c']);
    });

    it('bad duration', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Empty', '    retry_delay: 5x'));
      expect(at(p)).to.equal('5:18');
      expect(p.path).to.equal('tasks.a.retry_delay');
      expect(p.message).to.match(/^invalid duration '5x': use a number of seconds \(90\) or .*1h30m/);
    });

    it('bad duration type in default_args', () => {
      const p = problemOf(yaml('dag: x', 'default_args:', '  execution_timeout: [1]', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('3:22');
      expect(p.path).to.equal('default_args.execution_timeout');
      expect(p.message).to.match(/^must be a duration/);
    });

    it('bad cron string', () => {
      const p = problemOf(yaml('dag: x', 'schedule: "61 * * * *"', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('2:11');
      expect(p.path).to.equal('schedule');
      expect(p.message).to.match(/^invalid cron '61 \* \* \* \*': .*minute.*; write 5 fields/);
    });

    it('6-field (seconds) crons are rejected', () => {
      const p = problemOf(yaml('dag: x', 'schedule: "0 0 * * * *"', 'tasks: { a: { operator: Empty } }'));
      expect(p.message).to.match(/expected 5 fields .* got 6 \(6-field crons with seconds are not supported/);
    });

    it('unknown preset suggests the nearest', () => {
      const p = problemOf(yaml('dag: x', 'schedule: "@dayly"', 'tasks: { a: { operator: Empty } }'));
      expect(p.message).to.match(/^unknown schedule preset '@dayly'; use one of @once, @hourly, @daily/);
    });

    it('a cron that never fires', () => {
      const p = problemOf(yaml('dag: x', 'schedule: "0 0 30 2 *"', 'tasks: { a: { operator: Empty } }'));
      expect(p.message).to.match(/never fires/);
    });

    it('bad timezone', () => {
      const p = problemOf(yaml('dag: x', 'timezone: Europe/Berlinn', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('2:11');
      expect(p.path).to.equal('timezone');
      expect(p.message).to.equal(
        "unknown timezone 'Europe/Berlinn'; did you mean 'Europe/Berlin'? Use an IANA name such as UTC, Europe/Berlin, America/New_York",
      );
    });

    it('wrong parameter type for an operator param', () => {
      const problems = problemsOf(
        yaml('dag: x', 'tasks:', '  a:', '    operator: Load', '    table: 42', '    count: "three"', '    mode: apend'),
      );
      expect(problems.map((p) => `${at(p)} ${p.path}: ${p.message}`)).to.deep.equal([
        '5:12 tasks.a.table: must be a string, not number 42',
        '6:12 tasks.a.count: must be a number, not the string "three"',
        '7:11 tasks.a.mode: must be one of append, truncate, not the string "apend"; did you mean \'append\'?',
      ]);
    });

    it('a non-integer for an integer param', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a: { operator: Load, table: t, count: 1.5 }'));
      expect(p.message).to.equal('must be an integer, not number 1.5');
    });

    it('a missing operator param points at the task mapping', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Load', '    table: t'));
      expect(at(p)).to.equal('4:5');
      expect(p.path).to.equal('tasks.a.count');
      expect(p.message).to.equal("missing required parameter 'count' of operator Load: add `count:` with a number");
    });

    it('an unknown operator param points at the key and suggests', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Load', '    table: t', '    count: 1', '    tabel: t'));
      expect(at(p)).to.equal('7:5');
      expect(p.path).to.equal('tasks.a.tabel');
      expect(p.message).to.match(
        /^unknown parameter 'tabel' for operator Load; did you mean 'table'\? Its parameters: table, count, mode; task keys: operator, upstream/,
      );
    });

    it('a misspelt engine key on a task is suggested too', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    operator: Empty', '    retires: 3'));
      expect(p.message).to.match(/^unknown parameter 'retires' for operator Empty; did you mean 'retries'\?/);
    });

    it('bad engine-level task values', () => {
      const problems = problemsOf(
        yaml(
          'dag: x',
          'tasks:',
          '  a:',
          '    operator: Empty',
          '    retries: -1',
          '    trigger_rule: all_sucess',
          '    upstream: 3',
        ),
      );
      expect(problems.map((p) => `${at(p)} ${p.path}`)).to.deep.equal([
        '5:14 tasks.a.retries',
        '6:19 tasks.a.trigger_rule',
        '7:15 tasks.a.upstream',
      ]);
      expect(problems[1]!.message).to.match(/^must be one of all_success, .*; did you mean 'all_success'\?$/);
      expect(problems[2]!.message).to.equal('must be a task id or a list of task ids');
    });

    it('a task without an operator', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a:', '    retries: 1'));
      expect(at(p)).to.equal('4:5');
      expect(p.message).to.equal("missing required key 'operator': add `operator: <name>`; registered operators: Empty, Load");
    });

    it('a task that is not a mapping', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  a: Empty'));
      expect(at(p)).to.equal('3:6');
      expect(p.message).to.match(/^task 'a' must be a mapping with an `operator:` key/);
    });

    it('an invalid task id', () => {
      const p = problemOf(yaml('dag: x', 'tasks:', '  "load users": { operator: Empty }'));
      expect(at(p)).to.equal('3:3');
      expect(p.message).to.match(/task id 'load users' is not valid; use only letters, digits/);
    });

    it('unknown key at top level suggests the nearest', () => {
      const p = problemOf(yaml('dag: x', 'shedule: "@daily"', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('2:1');
      expect(p.path).to.equal('shedule');
      expect(p.message).to.match(/^unknown key 'shedule'; did you mean 'schedule'\? Allowed keys: dag, description, schedule/);
    });

    it('unknown key in default_args', () => {
      const p = problemOf(yaml('dag: x', 'default_args:', '  retry: 1', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('3:3');
      expect(p.message).to.match(/^unknown key 'retry'; did you mean 'retries'\?/);
    });

    it('missing dag and tasks point at the top mapping', () => {
      const problems = problemsOf(yaml('# a comment', 'description: nothing'));
      expect(problems.map((p) => `${at(p)} ${p.path}: ${p.message}`)).to.deep.equal([
        "2:1 dag: missing required key 'dag': add `dag: <id>` naming the DAG",
        "2:1 tasks: missing required key 'tasks': add a `tasks:` mapping of task id -> { operator: ..., ... }",
      ]);
    });

    it('empty tasks', () => {
      const p = problemOf(yaml('dag: x', 'tasks: {}'));
      expect(at(p)).to.equal('2:8');
      expect(p.message).to.match(/at least one task/);
    });

    it('a bad dag id', () => {
      const p = problemOf(yaml('dag: my dag', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('1:6');
      expect(p.message).to.match(/must be a DAG id: use only letters, digits/);
    });

    it('end_date before start_date', () => {
      const p = problemOf(yaml('dag: x', 'start_date: 2018-11-05', 'end_date: 2018-11-01', 'tasks: { a: { operator: Empty } }'));
      expect(at(p)).to.equal('3:11');
      expect(p.path).to.equal('end_date');
      expect(p.message).to.equal(
        'end_date 2018-11-01T00:00:00.000Z is before start_date 2018-11-05T00:00:00.000Z; move end_date after start_date or remove it',
      );
    });

    it('a bad date', () => {
      const problems = problemsOf(
        yaml('dag: x', 'start_date: 2018-02-30', 'end_date: yesterday', 'tasks: { a: { operator: Empty } }'),
      );
      expect(problems.map(at)).to.deep.equal(['2:13', '3:11']);
      expect(problems[0]!.message).to.match(/^invalid date '2018-02-30': no such day or time; use an ISO date/);
      expect(problems[1]!.message).to.match(/^invalid date 'yesterday': use an ISO date \(2018-11-01\) or datetime/);
    });

    it('a non-mapping file', () => {
      const p = problemOf(yaml('- dag: x', '- tasks: {}'));
      expect(at(p)).to.equal('1:1');
      expect(p.message).to.equal('the file holds a list; a DAG file must be a mapping with at least `dag:` and `tasks:` keys');
    });

    it('a scalar file and an empty file', () => {
      expect(problemOf('just text\n').message).to.match(/^the file holds the string "just text"; a DAG file must be a mapping/);
      expect(problemOf('').message).to.match(/^the file is empty; a DAG file must be a mapping/);
    });

    it('collects all problems of a file, in file order, into one error', () => {
      let error: DagFileError | undefined;
      try {
        loadDagSource(
          yaml(
            'dag: x',
            'shedule: "@daily"',
            'timezone: Mars/Olympus',
            'tasks:',
            '  a: { operator: Emtpy }',
            '  b: { operator: Load, table: t, count: x, upstream: [a, q] }',
            '  c: { operator: Empty, upstream: [c] }',
          ),
          'dags/x.yaml',
          testRegistry(),
        );
      } catch (err) {
        error = err as DagFileError;
      }
      expect(error).to.be.instanceOf(DagFileError);
      expect(error!.exitCode).to.equal(2);
      expect(error!.problems.map(at)).to.deep.equal(['2:1', '3:11', '5:18', '6:41', '6:58', '7:36']);
      expect(error!.message.split('\n')[0]).to.equal(
        "dags/x.yaml:2:1: shedule: unknown key 'shedule'; did you mean 'schedule'? Allowed keys: dag, description, schedule, timezone, start_date, end_date, catchup, max_active_runs, max_active_tasks, params, tags, default_args, on_failure, on_retry, on_success, on_dq_warning, tasks",
      );
    });
  });
});
