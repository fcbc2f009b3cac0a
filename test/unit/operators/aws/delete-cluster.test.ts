import {
  DeleteRoleCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { DeleteClusterCommand, DescribeClustersCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import path from 'node:path';
import { SqliteStateStore } from '../../../../engine/state/sqlite/index.js';
import { systemClock } from '../../../../engine/run/clock.js';
import { recordedConnections } from '../../../../engine/run/try.js';
import { DeleteCluster } from '../../../../operators/delete-cluster.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { awsError, fakeContext } from './helpers.js';

const fast = { poll_interval: '5ms', wait_timeout: '20s' };

describe('DeleteCluster (Redshift and IAM mocked)', () => {
  const iam = mockClient(IAMClient);
  const rs = mockClient(RedshiftClient);
  let store: SqliteStateStore;
  /** The state DB's connection store as the runner hands it to operators. */
  const conns = () => recordedConnections(store.connections, systemClock);
  const saved = { ...process.env };

  beforeEach(async () => {
    iam.reset();
    rs.reset();
    process.env.AWS_REGION = 'us-west-2';
    store = new SqliteStateStore(path.join(makeTempDir('sluice-rs-del'), 'state.db'));
    await conns().setConnection('warehouse', 'redshift://dwhuser@h:5439/dwh?password_env=REDSHIFT_PASSWORD', {
      cluster_identifier: 'sluice-redshift',
    });
  });
  afterEach(() => {
    store.close();
    process.env = { ...saved };
  });
  after(() => {
    iam.restore();
    rs.restore();
  });

  it('deletes without a final snapshot, waits until gone, forgets the recorded connection', async () => {
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [{ ClusterIdentifier: 'sluice-redshift', ClusterStatus: 'available' }] })
      .resolvesOnce({ Clusters: [{ ClusterIdentifier: 'sluice-redshift', ClusterStatus: 'deleting' }] })
      .rejects(awsError('ClusterNotFoundFault'));
    rs.on(DeleteClusterCommand).resolves({});
    const run = fakeContext(DeleteCluster, fast, { store: conns() });
    await DeleteCluster.execute(run.ctx as never);
    expect(rs.commandCalls(DeleteClusterCommand)[0]!.args[0].input).to.deep.equal({
      ClusterIdentifier: 'sluice-redshift',
      SkipFinalClusterSnapshot: true,
    });
    expect(await store.connections.get('warehouse')).to.equal(undefined);
    expect(run.outputs).to.include({ deleted_cluster: true, forgot_connection: true, final_snapshot: null, deleted_role: false });
    expect(run.lines.join('')).to.include('cluster sluice-redshift: deleting');
  });

  it('keeps a final snapshot when asked, and deletes the role (policies detached first)', async () => {
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [{ ClusterIdentifier: 'sluice-redshift', ClusterStatus: 'available' }] })
      .rejects(awsError('ClusterNotFoundFault'));
    rs.on(DeleteClusterCommand).resolves({});
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }] });
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: [] });
    iam.on(DetachRolePolicyCommand).resolves({});
    iam.on(DeleteRoleCommand).resolves({});
    const run = fakeContext(DeleteCluster, { ...fast, skip_final_snapshot: false, delete_iam_role: true }, { store: conns() });
    await DeleteCluster.execute(run.ctx as never);
    expect(rs.commandCalls(DeleteClusterCommand)[0]!.args[0].input).to.deep.equal({
      ClusterIdentifier: 'sluice-redshift',
      SkipFinalClusterSnapshot: false,
      FinalClusterSnapshotIdentifier: 'sluice-redshift-final-20240101',
    });
    expect(iam.commandCalls(DetachRolePolicyCommand)).to.have.length(1);
    expect(iam.commandCalls(DeleteRoleCommand)[0]!.args[0].input.RoleName).to.equal('sluiceRedshiftS3Read');
    expect(run.outputs).to.include({ deleted_role: true, final_snapshot: 'sluice-redshift-final-20240101' });
  });

  it('is idempotent: a missing cluster and a missing role are fine; a foreign connection is kept', async () => {
    await conns().setConnection('warehouse', 'redshift://u@other:5439/db', { cluster_identifier: 'another' });
    rs.on(DescribeClustersCommand).rejects(awsError('ClusterNotFoundFault'));
    iam.on(ListAttachedRolePoliciesCommand).rejects(awsError('NoSuchEntityException'));
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException'));
    const run = fakeContext(DeleteCluster, { ...fast, delete_iam_role: true }, { store: conns() });
    await DeleteCluster.execute(run.ctx as never);
    expect(rs.commandCalls(DeleteClusterCommand)).to.have.length(0);
    expect(run.outputs).to.include({ deleted_cluster: false, deleted_role: false, forgot_connection: false });
    expect((await store.connections.get('warehouse'))!.url).to.equal('redshift://u@other:5439/db');
    expect(run.lines.join('')).to.include('already deleted');
  });

  it('AccessDenied on DeleteCluster is a clear error', async () => {
    rs.on(DescribeClustersCommand).resolves({ Clusters: [{ ClusterIdentifier: 'sluice-redshift', ClusterStatus: 'available' }] });
    rs.on(DeleteClusterCommand).rejects(awsError('AccessDenied', 'not authorized to perform: redshift:DeleteCluster'));
    const err = (await DeleteCluster.execute(fakeContext(DeleteCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err.message).to.include('redshift:DeleteCluster sluice-redshift: AWS refused (AccessDenied)');
    expect(await store.connections.get('warehouse')).not.to.equal(undefined);
  });

  it('on a local warehouse it deletes nothing', async () => {
    const run = fakeContext(DeleteCluster, {}, { dialect: 'postgres', store: conns() });
    await DeleteCluster.execute(run.ctx as never);
    expect(rs.calls()).to.have.length(0);
    expect(run.outputs).to.include({ target: 'local', deleted_cluster: false });
  });
});
