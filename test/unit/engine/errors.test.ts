/**
 * Every error class lives in engine/errors.ts and is told apart with
 * instanceof (never by its name string); whether a failure may be retried
 * travels on the error itself.
 */
import { expect } from 'chai';
import { validateConf } from '../../../engine/dag/params.js';
import * as errors from '../../../engine/errors.js';
import {
  BAD_INPUT_DATA,
  ConfigError,
  ConnectionError,
  DagsFolderError,
  JsonLoadError,
  LoadError,
  notRetryableReason,
  ParamValidationError,
  QueryError,
  SluiceError,
  TaskFailure,
  TryAbort,
  UsageError,
  WarehouseBusyError,
} from '../../../engine/errors.js';
import type { Dag } from '../../../engine/interfaces.js';
import { describeAwsError } from '../../../operators/aws/hook.js';

describe('errors: one module, instanceof, retryable', () => {
  it('holds the engine error classes, each a SluiceError with its exit code', () => {
    const made: [Error, string, number][] = [
      [new TryAbort('execution_timeout of 1s exceeded', true), 'TryAbort', 1],
      [new QueryError('relation "x" does not exist', '42P01', 15), 'QueryError', 1],
      [new JsonLoadError('2 lines rejected', 'log/a.json', 2, []), 'LoadError', 1],
      [new WarehouseBusyError('warehouse /w is in use', '/w', null), 'WarehouseBusyError', 1],
      [new DagsFolderError('/nope', 'missing'), 'DagsFolderError', 2],
      [new ParamValidationError('--conf does not fit'), 'ParamValidationError', 2],
    ];
    for (const [err, name, exitCode] of made) {
      expect(err, name).to.be.instanceOf(SluiceError);
      expect(err.name).to.equal(name);
      expect((err as SluiceError).exitCode, name).to.equal(exitCode);
    }
    expect(made[2]![0]).to.be.instanceOf(LoadError);
    expect(made[3]![0]).to.be.instanceOf(ConnectionError);
    expect(made[4]![0]).to.be.instanceOf(ConfigError);
    for (const name of ['TryAbort', 'QueryError', 'JsonLoadError', 'WarehouseBusyError', 'DagsFolderError']) {
      expect(errors, name).to.have.property(name);
    }
  });

  it('a TryAbort carries whether the try may be retried; so does bad input data', () => {
    expect(notRetryableReason(new TryAbort('execution_timeout of 1s exceeded', true))).to.equal(null);
    expect(notRetryableReason(new TryAbort('interrupted: SIGTERM', false))).to.equal('interrupted: SIGTERM');
    expect(notRetryableReason(new Error('wrapped', { cause: new TryAbort('interrupted: SIGTERM', false) }))).to.equal(
      'interrupted: SIGTERM',
    );
    const bad = new JsonLoadError('load failed', 'log/a.json', 3, []);
    expect(bad.retryable).to.equal(false);
    expect(notRetryableReason(bad)).to.equal(BAD_INPUT_DATA);
    expect(notRetryableReason(new WarehouseBusyError('busy', '/w', null))).to.equal(null);
  });

  it('the AWS hook passes the try’s own abort through by class, an SDK abort by its SDK name', () => {
    const abort = new TryAbort('execution_timeout of 5m exceeded', true);
    expect(describeAwsError(abort, 'redshift:CreateCluster')).to.equal(abort);
    const sdkAbort = Object.assign(new Error('Request aborted'), { name: 'AbortError' });
    expect(describeAwsError(sdkAbort, 'redshift:CreateCluster')).to.equal(sdkAbort);
    // an error that merely calls itself TryAbort is not ours: it is reported as the AWS failure it is
    const impostor = Object.assign(new Error('nope'), { name: 'TryAbort' });
    const described = describeAwsError(impostor, 'redshift:CreateCluster');
    expect(described).to.be.instanceOf(TaskFailure);
    expect(described.message).to.equal('redshift:CreateCluster: TryAbort: nope');
  });

  it('a --conf that does not fit the DAG params is a ParamValidationError (exit 2), not the CLI’s UsageError', () => {
    const dag = { id: 'd', file: '/dags/d.yaml', params: {}, paramSpecs: {} } as unknown as Dag;
    let caught: unknown;
    try {
      validateConf(dag, { limit: 10 });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(ParamValidationError);
    expect(caught).not.to.be.instanceOf(UsageError);
    expect((caught as ParamValidationError).exitCode).to.equal(2);
    expect((caught as Error).message).to.contain("unknown param 'limit'");
  });
});
