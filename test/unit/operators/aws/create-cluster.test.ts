import { EC2Client, AuthorizeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import {
  CreateClusterCommand,
  DescribeClustersCommand,
  ModifyClusterIamRolesCommand,
  RedshiftClient,
  type Cluster,
} from '@aws-sdk/client-redshift';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { SqliteStateStore } from '../../../../engine/state/sqlite/index.js';
import { systemClock } from '../../../../engine/run/clock.js';
import { recordedConnections } from '../../../../engine/run/try.js';
import { TaskFailure } from '../../../../engine/errors.js';
import { CreateCluster } from '../../../../operators/create-cluster.js';
import { awsEndpoint } from '../../../../operators/aws/params.js';
import { awsClients } from '../../../../operators/aws/hook.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { awsError, fakeContext } from './helpers.js';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/sluiceRedshiftS3Read';
const S3_RO = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess';
const PASSWORD = 'Sup3rSecretPw9';

function cluster(status: string, extra: Partial<Cluster> = {}): Cluster {
  return {
    ClusterIdentifier: 'sluice-redshift',
    ClusterStatus: status,
    NodeType: 'dc2.large',
    NumberOfNodes: 1,
    DBName: 'dwh',
    MasterUsername: 'dwhuser',
    IamRoles: [{ IamRoleArn: ROLE_ARN, ApplyStatus: 'in-sync' }],
    VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-0123', Status: 'active' }],
    ...(status === 'available'
      ? { Endpoint: { Address: 'sluice-redshift.abc123.us-west-2.redshift.amazonaws.com', Port: 5439 } }
      : {}),
    ...extra,
  };
}

const fast = { poll_interval: '5ms', wait_timeout: '20s' };

describe('CreateCluster on AWS (IAM, Redshift and EC2 mocked)', () => {
  const iam = mockClient(IAMClient);
  const rs = mockClient(RedshiftClient);
  const ec2 = mockClient(EC2Client);
  let dir: string;
  let store: SqliteStateStore;
  /** The state DB's connection store as the runner hands it to operators. */
  const conns = () => recordedConnections(store.connections, systemClock);
  const saved = { ...process.env };

  beforeEach(() => {
    iam.reset();
    rs.reset();
    ec2.reset();
    process.env.AWS_REGION = 'us-west-2';
    process.env.REDSHIFT_PASSWORD = PASSWORD;
    delete process.env.SLUICE_CONN_WAREHOUSE;
    dir = makeTempDir('sluice-rs');
    store = new SqliteStateStore(path.join(dir, 'state.db'));
  });
  afterEach(() => {
    store.close();
    process.env = { ...saved };
  });
  after(() => {
    iam.restore();
    rs.restore();
    ec2.restore();
  });

  it('creates the role and the cluster, waits creating -> available, opens ingress, records the connection', async () => {
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException', 'The role with name sluiceRedshiftS3Read cannot be found.'));
    iam
      .on(CreateRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'sluiceRedshiftS3Read', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(AttachRolePolicyCommand).resolves({});
    rs.on(DescribeClustersCommand)
      .rejectsOnce(awsError('ClusterNotFoundFault', 'Cluster sluice-redshift not found.'))
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .resolves({ Clusters: [cluster('available')] });
    rs.on(CreateClusterCommand).resolves({ Cluster: cluster('creating') });
    ec2.on(AuthorizeSecurityGroupIngressCommand).resolves({ Return: true });

    const run = fakeContext(CreateCluster, { ...fast, ingress_cidr: '203.0.113.7/32' }, { store: conns() });
    await CreateCluster.execute(run.ctx as never);

    const create = rs.commandCalls(CreateClusterCommand)[0]!.args[0].input;
    expect(create).to.include({
      ClusterIdentifier: 'sluice-redshift',
      ClusterType: 'single-node',
      NodeType: 'dc2.large',
      DBName: 'dwh',
      MasterUsername: 'dwhuser',
      MasterUserPassword: PASSWORD,
      Port: 5439,
      PubliclyAccessible: true,
    });
    expect(create.NumberOfNodes).to.equal(undefined);
    expect(create.IamRoles).to.deep.equal([ROLE_ARN]);
    const trust = JSON.parse(iam.commandCalls(CreateRoleCommand)[0]!.args[0].input.AssumeRolePolicyDocument!);
    expect(trust.Statement[0].Principal.Service).to.equal('redshift.amazonaws.com');
    expect(iam.commandCalls(AttachRolePolicyCommand)[0]!.args[0].input.PolicyArn).to.equal(S3_RO);
    const ingress = ec2.commandCalls(AuthorizeSecurityGroupIngressCommand)[0]!.args[0].input;
    expect(ingress.GroupId).to.equal('sg-0123');
    expect(ingress.IpPermissions![0]).to.deep.include({ IpProtocol: 'tcp', FromPort: 5439, ToPort: 5439 });
    expect(ingress.IpPermissions![0]!.IpRanges![0]!.CidrIp).to.equal('203.0.113.7/32');

    const row = (await store.connections.get('warehouse'))!;
    expect(row.url).to.equal(
      'redshift://dwhuser@sluice-redshift.abc123.us-west-2.redshift.amazonaws.com:5439/dwh' +
        `?password_env=REDSHIFT_PASSWORD&iam_role=${ROLE_ARN}&region=us-west-2`,
    );
    expect(row.extra).to.include({
      cluster_identifier: 'sluice-redshift',
      role_arn: ROLE_ARN,
      port: 5439,
      database: 'dwh',
      region: 'us-west-2',
    });
    expect(row.updatedBy).to.equal('redshift_cluster.task');
    expect(run.outputs).to.include({ created_cluster: true, created_role: true, connection_recorded: true, role_arn: ROLE_ARN });

    // the status is logged at each poll
    const polls = run.lines.map((l) => JSON.parse(l)).filter((l) => l.waiting_for === 'available');
    expect(polls.map((l) => l.status)).to.deep.equal(['creating', 'creating', 'available']);
  });

  it('reuses an existing role and an available cluster; an existing ingress rule is fine', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'sluiceRedshiftS3Read', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: [{ PolicyArn: S3_RO, PolicyName: 'AmazonS3ReadOnlyAccess' }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [cluster('available')] });
    ec2
      .on(AuthorizeSecurityGroupIngressCommand)
      .rejects(awsError('InvalidPermission.Duplicate', 'the specified rule already exists'));

    const run = fakeContext(CreateCluster, { ...fast, ingress_cidr: '203.0.113.7/32' }, { store: conns() });
    await CreateCluster.execute(run.ctx as never);

    expect(iam.commandCalls(CreateRoleCommand)).to.have.length(0);
    expect(iam.commandCalls(AttachRolePolicyCommand)).to.have.length(0);
    expect(rs.commandCalls(CreateClusterCommand)).to.have.length(0);
    expect(rs.commandCalls(ModifyClusterIamRolesCommand)).to.have.length(0);
    expect(run.outputs).to.include({
      created_cluster: false,
      created_role: false,
      endpoint: 'sluice-redshift.abc123.us-west-2.redshift.amazonaws.com',
    });
    const text = run.lines.join('');
    expect(text).to.include('IAM role exists; reusing it');
    expect(text).to.include('Redshift cluster exists; reusing it');
    expect(text).to.include('already allows this address');
    expect((await store.connections.get('warehouse'))!.url).to.match(/^redshift:\/\/dwhuser@sluice-redshift\.abc123/);
  });

  it('attaches the role to an existing cluster that lacks it, and reports DAG differences', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('available', { IamRoles: [], NodeType: 'ra3.large' })] })
      .resolvesOnce({ Clusters: [cluster('modifying')] })
      .resolves({ Clusters: [cluster('available')] });
    rs.on(ModifyClusterIamRolesCommand).resolves({});
    const run = fakeContext(CreateCluster, fast, { store: conns() });
    await CreateCluster.execute(run.ctx as never);
    expect(rs.commandCalls(ModifyClusterIamRolesCommand)[0]!.args[0].input.AddIamRoles).to.deep.equal([ROLE_ARN]);
    expect(run.lines.join('')).to.include('node_type ra3.large');
  });

  it('a cluster that is deleting is a clear error (before waiting, and when it starts deleting during the wait)', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [cluster('deleting')] });
    let err = await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    );
    expect(err).to.be.instanceOf(TaskFailure);
    expect((err as Error).message).to.match(/cluster sluice-redshift is being deleted .*wait until it is gone/);

    rs.reset();
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .resolves({ Clusters: [cluster('deleting')] });
    err = await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch((e: Error) => e);
    expect(err).to.be.instanceOf(TaskFailure);
    expect((err as Error).message).to.include('is being deleted');
    expect(await store.connections.get('warehouse')).to.equal(undefined);
  });

  it('a failed cluster is a clear error; a cluster that fails while waiting stops the wait at once', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [cluster('failed')] });
    let err = (await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err.message).to.match(/exists but is failed; delete it \(run-dag redshift_teardown\)/);

    rs.reset();
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .resolves({ Clusters: [cluster('incompatible-network')] });
    const started = Date.now();
    err = (await CreateCluster.execute(
      fakeContext(CreateCluster, { poll_interval: '5ms', wait_timeout: '10m' }, { store: conns() }).ctx as never,
    ).catch((e: Error) => e)) as Error;
    expect(err.message).to.include('is incompatible-network, and will not become available by waiting');
    expect(Date.now() - started).to.be.lessThan(5000);
  });

  it('AccessDenied is a clear error naming the call and what to do', async () => {
    iam
      .on(GetRoleCommand)
      .rejects(
        awsError(
          'AccessDenied',
          'User: arn:aws:iam::123456789012:user/dev is not authorized to perform: iam:GetRole on resource: role sluiceRedshiftS3Read',
        ),
      );
    const err = (await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err).to.be.instanceOf(TaskFailure);
    expect(err.message).to.include('iam:GetRole on role sluiceRedshiftS3Read: AWS refused (AccessDenied)');
    expect(err.message).to.include('see docs/aws.md');

    iam.reset();
    iam.on(GetRoleCommand).rejects(awsError('CredentialsProviderError', 'Could not load credentials from any providers'));
    const err2 = (await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err2.message).to.include('no AWS credentials found');
  });

  it('AccessDenied while waiting stops the wait at once', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand)
      .resolvesOnce({ Clusters: [cluster('creating')] })
      .rejects(awsError('AccessDenied', 'not authorized to perform: redshift:DescribeClusters'));
    const err = (await CreateCluster.execute(
      fakeContext(CreateCluster, { poll_interval: '5ms', wait_timeout: '10m' }, { store: conns() }).ctx as never,
    ).catch((e: Error) => e)) as Error;
    expect(err.message).to.include('redshift:DescribeClusters on cluster sluice-redshift: AWS refused (AccessDenied)');
  });

  it("the wait honours the task's AbortSignal and wait_timeout", async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [cluster('creating')] });
    const ac = new AbortController();
    const reason = new Error('execution_timeout of 1s exceeded');
    setTimeout(() => ac.abort(reason), 150);
    const started = Date.now();
    const err = await CreateCluster.execute(
      fakeContext(CreateCluster, { poll_interval: '10ms', wait_timeout: '10m' }, { store: conns(), signal: ac.signal })
        .ctx as never,
    ).catch((e: Error) => e);
    expect(err).to.equal(reason);
    expect(Date.now() - started).to.be.lessThan(3000);

    const err2 = (await CreateCluster.execute(
      fakeContext(CreateCluster, { poll_interval: '10ms', wait_timeout: '0.3s' }, { store: conns() }).ctx as never,
    ).catch((e: Error) => e)) as Error;
    expect(err2).to.be.instanceOf(TaskFailure);
    expect(err2.message).to.match(/is not available after 0 s \(last status: creating\); raise wait_timeout/);
  });

  it('refuses to start without the password variable, and with a password Redshift would refuse (never showing it)', async () => {
    delete process.env.REDSHIFT_PASSWORD;
    let err = (await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err.message).to.include('environment variable REDSHIFT_PASSWORD (master_password_env), which is not set');
    process.env.REDSHIFT_PASSWORD = 'short1A';
    err = (await CreateCluster.execute(fakeContext(CreateCluster, fast, { store: conns() }).ctx as never).catch(
      (e: Error) => e,
    )) as Error;
    expect(err.message).to.include('does not suit Redshift');
    expect(err.message).not.to.include('short1A');
    expect(iam.calls()).to.have.length(0);
  });

  it('validates its parameters: a literal password in master_password_env, node counts', () => {
    expect(CreateCluster.params.safeParse({ master_password_env: 'Pa$$w0rd!' }).success).to.equal(false);
    expect(CreateCluster.params.safeParse({ cluster_type: 'multi-node', number_of_nodes: 1 }).success).to.equal(false);
    expect(CreateCluster.params.safeParse({ cluster_type: 'multi-node', number_of_nodes: 4 }).success).to.equal(true);
    expect(CreateCluster.params.safeParse({ cluster_identifier: 'Bad_Name' }).success).to.equal(false);
  });

  it('multi-node clusters send NumberOfNodes', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand)
      .rejectsOnce(awsError('ClusterNotFoundFault'))
      .resolves({ Clusters: [cluster('available', { NumberOfNodes: 4 })] });
    rs.on(CreateClusterCommand).resolves({ Cluster: cluster('creating') });
    await CreateCluster.execute(
      fakeContext(CreateCluster, { ...fast, cluster_type: 'multi-node', number_of_nodes: 4 }, { store: conns() }).ctx as never,
    );
    expect(rs.commandCalls(CreateClusterCommand)[0]!.args[0].input).to.include({ ClusterType: 'multi-node', NumberOfNodes: 4 });
  });

  it('without a connection store it says how to record the connection by hand', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [{ PolicyArn: S3_RO }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [cluster('available')] });
    const run = fakeContext(CreateCluster, fast);
    await CreateCluster.execute(run.ctx as never);
    expect(run.outputs.connection_recorded).to.equal(false);
    expect(run.lines.join('')).to.include('sluice connections set warehouse');
  });
});

describe('AWS clients honour the standard endpoint overrides', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('AWS_ENDPOINT_URL_<SERVICE> over AWS_ENDPOINT_URL; none means AWS', async () => {
    const env = { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566', AWS_ENDPOINT_URL_IAM: 'http://127.0.0.1:5000' };
    expect(awsEndpoint('iam', env)).to.equal('http://127.0.0.1:5000');
    expect(awsEndpoint('redshift', env)).to.equal('http://127.0.0.1:4566');
    expect(awsEndpoint('ec2', { AWS_ENDPOINT_URL_EC2: 'http://e:1' })).to.equal('http://e:1');
    expect(awsEndpoint('s3', { AWS_ENDPOINT_URL_S3: 'http://s:1' })).to.equal('http://s:1');
    expect(awsEndpoint('redshift', {})).to.equal(undefined);
    expect(awsEndpoint('redshift', { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).to.equal(undefined);

    const clients = awsClients('us-west-2', {
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4566',
      AWS_ENDPOINT_URL_REDSHIFT: 'http://127.0.0.1:4577',
    });
    try {
      const rsEndpoint = await clients.redshift.config.endpoint!();
      const iamEndpoint = await clients.iam.config.endpoint!();
      expect(`${rsEndpoint.hostname}:${rsEndpoint.port}`).to.equal('127.0.0.1:4577');
      expect(`${iamEndpoint.hostname}:${iamEndpoint.port}`).to.equal('127.0.0.1:4566');
    } finally {
      clients.destroy();
    }
  });
});

describe('CreateCluster on a local warehouse', () => {
  it('pglite: opens (creates) the data dir and says no cluster was created', async () => {
    const { PgliteWarehouse } = await import('../../../../engine/connections/warehouse/pglite/pglite.js');
    const dir = path.join(makeTempDir('sluice-rs-local'), 'wh');
    let wh: Awaited<ReturnType<typeof PgliteWarehouse.open>> | undefined;
    const run = fakeContext(
      CreateCluster,
      {},
      {
        dialect: 'postgres',
        warehouse: async () => (wh ??= await PgliteWarehouse.open(`pglite://${dir}`, dir)),
      },
    );
    try {
      await CreateCluster.execute(run.ctx as never);
    } finally {
      await wh?.close();
    }
    expect(fs.existsSync(dir)).to.equal(true);
    expect(run.outputs).to.include({ target: 'local', kind: 'pglite' });
    expect(run.lines.join('')).to.include('no AWS cluster created');
  });

  it('target must be aws, local or auto', async () => {
    const run = fakeContext(CreateCluster, { target: 'gcp' });
    const err = (await CreateCluster.execute(run.ctx as never).catch((e: Error) => e)) as Error;
    expect(err.message).to.include("target must be aws, local or auto, not 'gcp'");
  });
});
