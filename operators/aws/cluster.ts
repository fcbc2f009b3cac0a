/**
 * The cluster operations on AWS behind CreateCluster and DeleteCluster: the
 * IAM role, the Redshift cluster, its ingress rule, and recording (or
 * forgetting) the warehouse connection. Loaded only when a task targets AWS.
 */
import { AuthorizeSecurityGroupIngressCommand, type EC2Client } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  GetRoleCommand,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import {
  CreateClusterCommand,
  DeleteClusterCommand,
  DescribeClustersCommand,
  ModifyClusterIamRolesCommand,
  type Cluster,
  type RedshiftClient,
} from '@aws-sdk/client-redshift';
import { formatRedshiftUrl } from '../../engine/connections/warehouse/redshift/redshift-url.js';
import { TaskFailure, errorMessage } from '../../engine/errors.js';
import type { Logger, TaskContext } from '../../engine/interfaces.js';
import { aws, awsClients, awsErrorName, describeAwsError, waitForCluster } from './hook.js';
import { awsRegion, connectionStoreOf, type CreateClusterParams as Params, type DeleteClusterParams } from './params.js';

// ---------------------------------------------------------------------------
// CreateCluster

export async function createOnAws(ctx: TaskContext<Params>): Promise<void> {
  const { params: p, log, signal } = ctx;
  const region = awsRegion(p.region);
  const password = readPassword(p.master_password_env);
  const clients = awsClients(region);
  try {
    const role = await ensureRole(clients.iam, p.iam_role_name, p.iam_policy_arns, log);
    let cluster = await describeCluster(clients.redshift, p.cluster_identifier);
    let createdCluster = false;
    if (!cluster) {
      log.info(
        { cluster: p.cluster_identifier, node_type: p.node_type, nodes: p.number_of_nodes, region },
        'creating the Redshift cluster',
      );
      cluster = await createCluster(clients.redshift, p, role.arn, password);
      createdCluster = cluster !== undefined;
    } else {
      reuseCheck(cluster, p, log);
    }
    if (cluster && !(cluster.IamRoles ?? []).some((r) => r.IamRoleArn === role.arn) && cluster.ClusterStatus === 'available') {
      log.info({ cluster: p.cluster_identifier, role_arn: role.arn }, 'attaching the role to the existing cluster');
      await aws(`redshift:ModifyClusterIamRoles on cluster ${p.cluster_identifier}`, () =>
        clients.redshift.send(
          new ModifyClusterIamRolesCommand({ ClusterIdentifier: p.cluster_identifier, AddIamRoles: [role.arn] }),
          {
            abortSignal: signal,
          },
        ),
      );
    }
    const ready = await waitForCluster(clients.redshift, p.cluster_identifier, 'available', {
      signal,
      log,
      maxWaitMs: p.wait_timeout,
      pollMs: p.poll_interval,
    });
    const host = ready?.Endpoint?.Address;
    if (!ready || !host)
      throw new TaskFailure(`cluster ${p.cluster_identifier} is available but has no endpoint address yet; run again`);
    const port = ready.Endpoint?.Port ?? p.port;
    const database = ready.DBName ?? p.db_name;
    const user = ready.MasterUsername ?? p.master_username;
    log.info({ cluster: p.cluster_identifier, endpoint: host, port, database }, 'cluster available');

    let ingress: string | null = null;
    if (p.ingress_cidr) ingress = await openIngress(ctx, clients.ec2, ready, port, p.ingress_cidr);

    const url = formatRedshiftUrl({ host, port, database, user, passwordEnv: p.master_password_env, iamRole: role.arn, region });
    const recorded = await recordConnection(ctx, url, {
      cluster_identifier: p.cluster_identifier,
      region,
      role_arn: role.arn,
      endpoint: host,
      port,
      database,
      master_username: user,
      recorded_by: 'CreateCluster',
    });
    ctx.record({
      target: 'aws',
      cluster_identifier: p.cluster_identifier,
      region,
      created_cluster: createdCluster,
      created_role: role.created,
      role_arn: role.arn,
      endpoint: host,
      port,
      database,
      ingress_cidr: ingress,
      connection: p.connection,
      connection_url: url,
      connection_recorded: recorded,
    });
  } finally {
    clients.destroy();
  }
}

/** The master password from its environment variable; checked against Redshift's rules without ever showing it. */
function readPassword(envName: string): string {
  const pw = process.env[envName];
  if (!pw) {
    throw new TaskFailure(
      `the master password is read from the environment variable ${envName} (master_password_env), which is not set; ` +
        `export ${envName}=... (8-64 characters with upper and lower case letters and a digit)`,
    );
  }
  const problems: string[] = [];
  if (pw.length < 8 || pw.length > 64) problems.push('be 8 to 64 characters long');
  if (!/[A-Z]/.test(pw) || !/[a-z]/.test(pw) || !/[0-9]/.test(pw))
    problems.push('hold an upper case letter, a lower case letter and a digit');
  if (/['"\\/@\s]/.test(pw)) problems.push('not hold \' " \\ / @ or spaces');
  if (problems.length)
    throw new TaskFailure(`the password in ${envName} does not suit Redshift: it must ${problems.join(', and ')}`);
  return pw;
}

const TRUST_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'redshift.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

/** GetRole, else CreateRole (trusting Redshift); then attaches the policies it lacks. */
export async function ensureRole(
  iam: IAMClient,
  name: string,
  policies: string[],
  log: Logger,
): Promise<{ arn: string; created: boolean }> {
  let arn: string | undefined;
  let created = false;
  try {
    arn = (await iam.send(new GetRoleCommand({ RoleName: name }))).Role?.Arn;
    log.info({ role: name, role_arn: arn }, 'IAM role exists; reusing it');
  } catch (err) {
    if (!/^NoSuchEntity(Exception)?$/.test(awsErrorName(err))) throw describeAwsError(err, `iam:GetRole on role ${name}`);
  }
  if (!arn) {
    const out = await aws(`iam:CreateRole on role ${name}`, () =>
      iam.send(
        new CreateRoleCommand({
          RoleName: name,
          AssumeRolePolicyDocument: TRUST_POLICY,
          Description: 'Lets Amazon Redshift read the data lake for Sluice COPY',
          Tags: [{ Key: 'created-by', Value: 'sluice' }],
        }),
      ),
    );
    arn = out.Role?.Arn;
    if (!arn) throw new TaskFailure(`iam:CreateRole on role ${name} returned no ARN`);
    created = true;
    log.info({ role: name, role_arn: arn }, 'IAM role created');
  }
  const attached = await aws(`iam:ListAttachedRolePolicies on role ${name}`, () =>
    iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name })),
  );
  const have = new Set((attached.AttachedPolicies ?? []).map((a) => a.PolicyArn));
  for (const policy of policies) {
    if (have.has(policy)) continue;
    await aws(`iam:AttachRolePolicy ${policy} on role ${name}`, () =>
      iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: policy })),
    );
    log.info({ role: name, policy }, 'policy attached to the role');
  }
  return { arn, created };
}

/** The cluster's description, or undefined when there is none. */
export async function describeCluster(redshift: RedshiftClient, id: string): Promise<Cluster | undefined> {
  try {
    const out = await redshift.send(new DescribeClustersCommand({ ClusterIdentifier: id }));
    return out.Clusters?.[0];
  } catch (err) {
    if (awsErrorName(err) === 'ClusterNotFoundFault') return undefined;
    throw describeAwsError(err, `redshift:DescribeClusters on cluster ${id}`);
  }
}

async function createCluster(
  redshift: RedshiftClient,
  p: Params,
  roleArn: string,
  password: string,
): Promise<Cluster | undefined> {
  try {
    const out = await redshift.send(
      new CreateClusterCommand({
        ClusterIdentifier: p.cluster_identifier,
        ClusterType: p.cluster_type,
        NodeType: p.node_type,
        ...(p.cluster_type === 'multi-node' ? { NumberOfNodes: p.number_of_nodes } : {}),
        DBName: p.db_name,
        MasterUsername: p.master_username,
        MasterUserPassword: password,
        Port: p.port,
        IamRoles: [roleArn],
        PubliclyAccessible: p.publicly_accessible,
        Tags: [{ Key: 'created-by', Value: 'sluice' }],
      }),
    );
    return out.Cluster;
  } catch (err) {
    // Created meanwhile by someone else: reuse it like any existing cluster.
    if (awsErrorName(err) === 'ClusterAlreadyExistsFault') return describeCluster(redshift, p.cluster_identifier);
    throw describeAwsError(err, `redshift:CreateCluster ${p.cluster_identifier}`);
  }
}

/** An existing cluster: reused unless it is going away or broken; differences from the DAG are reported. */
function reuseCheck(c: Cluster, p: Params, log: Logger): void {
  const status = c.ClusterStatus ?? 'unknown';
  if (status === 'deleting' || status === 'final-snapshot') {
    throw new TaskFailure(
      `cluster ${p.cluster_identifier} is being deleted (status ${status}); wait until it is gone, then run again to create it anew`,
    );
  }
  if (status === 'failed' || status.startsWith('incompatible-') || status === 'hardware-failure') {
    throw new TaskFailure(
      `cluster ${p.cluster_identifier} exists but is ${status}; delete it (run-dag redshift_teardown) and run again`,
    );
  }
  const differs: string[] = [];
  if (c.NodeType && c.NodeType !== p.node_type) differs.push(`node_type ${c.NodeType}`);
  if (c.NumberOfNodes && c.NumberOfNodes !== p.number_of_nodes) differs.push(`number_of_nodes ${c.NumberOfNodes}`);
  if (c.DBName && c.DBName !== p.db_name) differs.push(`db_name ${c.DBName}`);
  if (c.MasterUsername && c.MasterUsername !== p.master_username) differs.push(`master_username ${c.MasterUsername}`);
  log.info({ cluster: p.cluster_identifier, status }, 'Redshift cluster exists; reusing it');
  if (differs.length)
    log.warn(
      { cluster: p.cluster_identifier, differs },
      `the existing cluster differs from the DAG (kept as is): ${differs.join(', ')}`,
    );
}

/** Opens the port on the cluster's VPC security group to a CIDR; an existing rule is fine. */
async function openIngress(
  ctx: TaskContext<Params>,
  ec2: EC2Client,
  c: Cluster,
  port: number,
  cidrParam: string,
): Promise<string> {
  const { log, signal } = ctx;
  const cidr = cidrParam.trim() === 'my-ip' ? await myIp(signal) : cidrParam.trim();
  const v6 = cidr.includes(':');
  if (!(v6 ? /^[0-9a-f:]+\/\d{1,3}$/i : /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/).test(cidr)) {
    throw new TaskFailure(`ingress_cidr must be a CIDR such as 203.0.113.7/32 (or my-ip), not '${cidrParam}'`);
  }
  const group = (c.VpcSecurityGroups ?? []).find((g) => g.VpcSecurityGroupId && g.Status !== 'removing')?.VpcSecurityGroupId;
  if (!group) {
    log.warn({ cluster: c.ClusterIdentifier }, 'the cluster has no VPC security group; ingress not changed');
    return cidr;
  }
  try {
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: group,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: port,
            ToPort: port,
            ...(v6
              ? { Ipv6Ranges: [{ CidrIpv6: cidr, Description: 'sluice: Redshift access' }] }
              : { IpRanges: [{ CidrIp: cidr, Description: 'sluice: Redshift access' }] }),
          },
        ],
      }),
      { abortSignal: signal },
    );
    log.info({ security_group: group, port, cidr }, 'port opened on the security group');
  } catch (err) {
    if (awsErrorName(err) !== 'InvalidPermission.Duplicate') {
      throw describeAwsError(err, `ec2:AuthorizeSecurityGroupIngress on ${group}`);
    }
    log.info({ security_group: group, port, cidr }, 'the security group already allows this address');
  }
  return cidr;
}

/** This machine's public IPv4 address as a /32 (asks checkip.amazonaws.com). */
async function myIp(signal: AbortSignal): Promise<string> {
  try {
    const res = await fetch('https://checkip.amazonaws.com', { signal });
    const ip = (await res.text()).trim();
    if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(ip)) throw new Error(`unexpected answer '${ip.slice(0, 40)}'`);
    return `${ip}/32`;
  } catch (err) {
    if (signal.aborted) throw err;
    throw new TaskFailure(
      `ingress_cidr my-ip: could not learn this machine's public address (${errorMessage(err)}); give a CIDR instead`,
    );
  }
}

/** Records the connection in the state DB; says how to do it by hand when the engine gives no store. */
async function recordConnection(ctx: TaskContext<Params>, url: string, extra: Record<string, unknown>): Promise<boolean> {
  const name = ctx.params.connection;
  const store = connectionStoreOf(ctx);
  const envName = `SLUICE_CONN_${name.toUpperCase()}`;
  if (process.env[envName]) {
    ctx.log.warn({ connection: name }, `${envName} is set and overrides the recorded connection; unset it to use the cluster`);
  }
  if (!store) {
    ctx.log.warn(
      { connection: name, url },
      `no connection store in this context; record it with: sluice connections set ${name} '${url}'`,
    );
    return false;
  }
  await store.setConnection(name, url, extra, `${ctx.dagId}.${ctx.taskId}`);
  ctx.log.info({ connection: name, url }, `connection '${name}' now points at the cluster`);
  return true;
}

// ---------------------------------------------------------------------------
// DeleteCluster

export async function deleteOnAws(ctx: TaskContext<DeleteClusterParams>): Promise<void> {
  const { params: p, log, signal } = ctx;
  const id = p.cluster_identifier;
  const region = awsRegion(p.region);
  const clients = awsClients(region);
  let deleted = false;
  let snapshot: string | null = null;
  try {
    const cluster = await describeCluster(clients.redshift, id);
    if (!cluster) {
      log.info({ cluster: id, region }, 'cluster not found: already deleted');
    } else if (cluster.ClusterStatus === 'deleting' || cluster.ClusterStatus === 'final-snapshot') {
      log.info({ cluster: id, status: cluster.ClusterStatus }, 'cluster is already being deleted');
    } else {
      if (!p.skip_final_snapshot) {
        snapshot = p.final_snapshot_identifier ?? `${id}-final-${ctx.logicalDate.toISOString().slice(0, 10).replace(/-/g, '')}`;
      }
      try {
        await clients.redshift.send(
          new DeleteClusterCommand({
            ClusterIdentifier: id,
            SkipFinalClusterSnapshot: p.skip_final_snapshot,
            ...(snapshot ? { FinalClusterSnapshotIdentifier: snapshot } : {}),
          }),
          { abortSignal: signal },
        );
      } catch (err) {
        const name = awsErrorName(err);
        if (name === 'ClusterNotFoundFault') log.info({ cluster: id }, 'cluster not found: already deleted');
        else if (name === 'InvalidClusterStateFault') {
          throw new TaskFailure(
            `cluster ${id} cannot be deleted while it is ${cluster.ClusterStatus ?? 'busy'}; run the teardown again once it is available`,
          );
        } else throw describeAwsError(err, `redshift:DeleteCluster ${id}`);
      }
      deleted = true;
      log.info(
        { cluster: id, final_snapshot: snapshot },
        snapshot ? `deleting the cluster (final snapshot ${snapshot})` : 'deleting the cluster (no final snapshot)',
      );
    }
    if (cluster && p.wait) {
      await waitForCluster(clients.redshift, id, 'deleted', { signal, log, maxWaitMs: p.wait_timeout, pollMs: p.poll_interval });
      log.info({ cluster: id }, 'cluster deleted');
    }
    let deletedRole = false;
    if (p.delete_iam_role) deletedRole = await deleteRole(clients.iam, p.iam_role_name, log);
    const forgot = p.forget_connection ? await forgetConnection(ctx) : false;
    ctx.record({
      target: 'aws',
      cluster_identifier: id,
      region,
      deleted_cluster: deleted,
      final_snapshot: snapshot,
      deleted_role: deletedRole,
      forgot_connection: forgot,
    });
  } finally {
    clients.destroy();
  }
}

/** Detaches the role's managed policies, deletes its inline ones, then the role; a missing role is fine. */
export async function deleteRole(iam: IAMClient, name: string, log: Logger): Promise<boolean> {
  const gone = (err: unknown) => /^NoSuchEntity(Exception)?$/.test(awsErrorName(err));
  try {
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }));
    for (const a of attached.AttachedPolicies ?? []) {
      await aws(`iam:DetachRolePolicy ${a.PolicyArn} from role ${name}`, () =>
        iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: a.PolicyArn })),
      );
    }
    const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: name }));
    for (const policy of inline.PolicyNames ?? []) {
      await aws(`iam:DeleteRolePolicy ${policy} on role ${name}`, () =>
        iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: policy })),
      );
    }
    await iam.send(new DeleteRoleCommand({ RoleName: name }));
    log.info({ role: name }, 'IAM role deleted');
    return true;
  } catch (err) {
    if (gone(err)) {
      log.info({ role: name }, 'IAM role not found: already deleted');
      return false;
    }
    throw describeAwsError(err, `deleting IAM role ${name}`);
  }
}

/** Removes the stored connection when CreateCluster recorded it for this cluster. */
async function forgetConnection(ctx: TaskContext<DeleteClusterParams>): Promise<boolean> {
  const store = connectionStoreOf(ctx);
  const name = ctx.params.connection;
  if (!store) {
    ctx.log.warn({ connection: name }, `no connection store in this context; remove it with: sluice connections delete ${name}`);
    return false;
  }
  const row = await store.getConnection(name);
  if (!row) return false;
  if (row.extra.cluster_identifier !== ctx.params.cluster_identifier) {
    ctx.log.info({ connection: name }, `connection '${name}' was not recorded for this cluster; kept`);
    return false;
  }
  await store.deleteConnection(name);
  ctx.log.info({ connection: name }, `connection '${name}' forgotten: it falls back to the config file`);
  return true;
}
