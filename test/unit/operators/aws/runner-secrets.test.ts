/**
 * The cluster operators through the real runner and state DB: the task's
 * execution_timeout aborts the wait, and no secret (password, AWS keys,
 * session token) reaches logs, errors, the state DB or --json output.
 */
import {
  GetRoleCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  CreateRoleCommand,
  AttachRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateClusterCommand, DescribeClustersCommand, RedshiftClient } from '@aws-sdk/client-redshift';
import { mockClient } from 'aws-sdk-client-mock';
import { expect } from 'chai';
import { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import type { App } from '../../../../engine/cli/app.js';
import { register as registerConnectionsCommand, type WithApp } from '../../../../engine/cli/commands/connections.js';
import type { ConnectionResolver } from '../../../../engine/interfaces.js';
import { harness } from '../../../helpers/engine.js';
import { SqliteStateStore } from '../../../../engine/state/sqlite/index.js';
import { systemClock } from '../../../../engine/run/clock.js';
import { recordedConnections } from '../../../../engine/run/try.js';
import { Runs } from '../../../../engine/run/runs.js';
import { CreateCluster } from '../../../../operators/create-cluster.js';
import { makeTempDir } from '../../../helpers/tmp.js';
import { awsError, fakeContext } from './helpers.js';

const ROLE_ARN = 'arn:aws:iam::123456789012:role/sluiceRedshiftS3Read';
const SECRETS = {
  REDSHIFT_PASSWORD: 'Sup3rSecretPw9',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY',
  AWS_SESSION_TOKEN: 'FQoGZXIvYXdzEXAMPLESESSIONTOKEN0123456789',
};

function redshiftConnections(): ConnectionResolver {
  const fail = async (): Promise<never> => {
    throw new Error('not opened in this test');
  };
  return {
    warehouse: fail,
    objectStore: fail,
    publicUrl: (n) => (n === 'warehouse' ? 'redshift://dwhuser@pending:5439/dwh?password_env=REDSHIFT_PASSWORD' : 'lake'),
    dialect: (n = 'warehouse') => (n === 'warehouse' ? 'redshift' : 'postgres'),
    names: () => ['lake', 'warehouse'],
    closeAll: async () => {},
  };
}

function assertNoSecret(where: string, text: string): void {
  for (const [k, v] of Object.entries(SECRETS)) expect(text, `${k} in ${where}`).not.to.include(v);
}

describe('cluster operators: timeouts and secrets', () => {
  const iam = mockClient(IAMClient);
  const rs = mockClient(RedshiftClient);
  const saved = { ...process.env };

  beforeEach(() => {
    iam.reset();
    rs.reset();
    Object.assign(process.env, SECRETS, { AWS_REGION: 'us-west-2' });
  });
  afterEach(() => {
    process.env = { ...saved };
  });
  after(() => {
    iam.restore();
    rs.restore();
  });

  it('execution_timeout aborts the wait for the cluster; the status was logged at each poll', async () => {
    iam
      .on(GetRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam
      .on(ListAttachedRolePoliciesCommand)
      .resolves({ AttachedPolicies: [{ PolicyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess' }] });
    rs.on(DescribeClustersCommand).resolves({ Clusters: [{ ClusterIdentifier: 'sluice-redshift', ClusterStatus: 'creating' }] });
    const h = harness({ connections: redshiftConnections() });
    try {
      const dag = h.dag(`
dag: rc
tasks:
  create_cluster:
    operator: CreateCluster
    poll_interval: 20ms
    wait_timeout: 10m
    execution_timeout: 1s
`);
      const started = Date.now();
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('failed');
      expect(Date.now() - started).to.be.lessThan(10_000);
      const tries = await h.store.tasks.tries(runId, 'create_cluster');
      expect(tries[0]!.error).to.include('execution_timeout of 1s exceeded');
      const logs = (await h.store.logs.list(tries[0]!.tryId)).map((l) => l.msg);
      expect(logs.filter((m) => m === 'cluster sluice-redshift: creating').length).to.be.greaterThan(2);
    } finally {
      h.close();
    }
  });

  it('no password, key or token in logs, errors, outputs, the state DB or connections --json', async () => {
    // a successful create through a fake context with a real state DB as the connection store
    const dir = makeTempDir('sluice-secrets');
    const dbFile = path.join(dir, 'state.db');
    const store = new SqliteStateStore(dbFile);
    iam.on(GetRoleCommand).rejects(awsError('NoSuchEntityException'));
    iam
      .on(CreateRoleCommand)
      .resolves({ Role: { Arn: ROLE_ARN, RoleName: 'r', Path: '/', RoleId: 'AROA', CreateDate: new Date() } });
    iam.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
    iam.on(AttachRolePolicyCommand).resolves({});
    rs.on(DescribeClustersCommand)
      .rejectsOnce(awsError('ClusterNotFoundFault'))
      .resolves({
        Clusters: [
          {
            ClusterIdentifier: 'sluice-redshift',
            ClusterStatus: 'available',
            Endpoint: { Address: 'h.example', Port: 5439 },
            DBName: 'dwh',
            MasterUsername: 'dwhuser',
          },
        ],
      });
    rs.on(CreateClusterCommand).resolves({ Cluster: { ClusterStatus: 'creating' } });
    const run = fakeContext(
      CreateCluster,
      { poll_interval: '5ms' },
      { store: recordedConnections(store.connections, systemClock) },
    );
    await CreateCluster.execute(run.ctx as never);
    expect(rs.commandCalls(CreateClusterCommand)[0]!.args[0].input.MasterUserPassword).to.equal(SECRETS.REDSHIFT_PASSWORD);
    assertNoSecret('logs', run.lines.join('\n'));
    assertNoSecret('outputs', JSON.stringify(run.outputs));
    assertNoSecret('stored connection', JSON.stringify(await store.connections.list()));

    // a failing create through the runner: the error and logs land in the state DB
    const h = harness({ connections: redshiftConnections() });
    rs.reset();
    rs.on(DescribeClustersCommand).rejectsOnce(awsError('ClusterNotFoundFault'));
    rs.on(CreateClusterCommand).rejects(
      awsError('InvalidParameterValue', 'The parameter MasterUserPassword is not a valid password.'),
    );
    try {
      const { runId, state } = await h.run(
        h.dag('dag: rc2\ntasks:\n  create_cluster:\n    operator: CreateCluster\n    poll_interval: 5ms\n'),
      );
      expect(state).to.equal('failed');
      const t = (await h.store.tasks.tries(runId, 'create_cluster'))[0]!;
      expect(t.error).to.include('redshift:CreateCluster sluice-redshift: InvalidParameterValue');
      assertNoSecret('task error', `${t.error} ${JSON.stringify(await h.store.logs.list(t.tryId))}`);
      await h.store.close();
      assertNoSecret('harness state DB file', fs.readFileSync(path.join(h.dir, 'state.db')).toString('latin1'));
    } finally {
      fs.rmSync(h.dir, { recursive: true, force: true });
    }

    // connections list/get --json on the state DB the create recorded into
    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    const app = {
      store,
      runs: new Runs(store),
      config: { connections: { lake: 'lake' }, envConnections: {}, home: dir },
    } as unknown as App;
    const withApp: WithApp =
      (_cmd, fn) =>
      async (...args: unknown[]) => {
        await (fn as (a: App, ...x: unknown[]) => unknown)(app, ...args.slice(0, -1));
      };
    const program = new Command('sluice').exitOverride();
    registerConnectionsCommand(program, { withApp });
    process.stdout.write = ((s: string) => out.push(s) > 0) as unknown as typeof process.stdout.write;
    try {
      await program.parseAsync(['connections', 'list', '--json'], { from: 'user' });
      await program.parseAsync(['connections', 'get', 'warehouse', '--json'], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    const listed = JSON.parse(out[0]!) as { connections: { name: string; source: string; url: string }[] };
    expect(listed.connections.find((c) => c.name === 'warehouse')).to.include({
      source: 'store',
      url: `redshift://dwhuser@h.example:5439/dwh?password_env=REDSHIFT_PASSWORD&iam_role=${ROLE_ARN}&region=us-west-2`,
    });
    assertNoSecret('connections --json', out.join(''));
    await store.close();
    assertNoSecret('state DB file', fs.readFileSync(dbFile).toString('latin1'));
  });
});
