import { expect } from 'chai';
import { Command } from 'commander';
import path from 'node:path';
import type { App } from '../../../../engine/cli/app.js';
import { register as registerConnectionsCommand, type WithApp } from '../../../../engine/cli/commands/connections.js';
import { UsageError } from '../../../../engine/errors.js';
import { Runs } from '../../../../engine/run/runs.js';
import { SqliteStateStore } from '../../../../engine/state/sqlite/index.js';
import { makeTempDir } from '../../../helpers/tmp.js';

describe('sluice connections list|get|set|delete', () => {
  let store: SqliteStateStore;
  let app: App;
  let out: string[];

  async function sluice(...argv: string[]): Promise<string> {
    out = [];
    const withApp: WithApp =
      (_cmd, fn) =>
      async (...args: unknown[]) => {
        await (fn as (a: App, ...x: unknown[]) => unknown)(app, ...args.slice(0, -1));
      };
    const program = new Command('sluice').exitOverride();
    registerConnectionsCommand(program, { withApp });
    const write = process.stdout.write.bind(process.stdout);
    const ewrite = process.stderr.write.bind(process.stderr);
    process.stdout.write = ((s: string) => out.push(s) > 0) as unknown as typeof process.stdout.write;
    process.stderr.write = ((s: string) => out.push(s) > 0) as unknown as typeof process.stderr.write;
    try {
      await program.parseAsync(argv, { from: 'user' });
    } finally {
      process.stdout.write = write;
      process.stderr.write = ewrite;
    }
    return out.join('');
  }

  beforeEach(() => {
    const dir = makeTempDir('sluice-conn-cmd');
    store = new SqliteStateStore(path.join(dir, 'state.db'));
    app = {
      store,
      runs: new Runs(store),
      config: {
        home: dir,
        connections: { warehouse: 'pglite:warehouse', lake: 'lake' },
        envConnections: { lake: 's3://b/p?region=us-west-2&access_key_id=AK&secret_access_key=SK' },
      },
    } as unknown as App;
  });
  afterEach(() => store.close());

  it('set stores a URL with a password_env reference; list and get show the layers, masked', async () => {
    const url = 'redshift://dwhuser@h.example:5439/dwh?password_env=REDSHIFT_PASSWORD&iam_role=arn:aws:iam::123456789012:role/r';
    expect(await sluice('connections', 'set', 'warehouse', url, '--extra', '{"cluster_identifier":"c1"}')).to.include(
      "stored connection 'warehouse'",
    );
    expect(await store.connections.get('warehouse')).to.deep.include({
      url,
      extra: { cluster_identifier: 'c1' },
      updatedBy: 'sluice connections set',
    });
    const listed = JSON.parse(await sluice('connections', 'list', '--json')).connections;
    expect(listed.map((c: { name: string; source: string }) => [c.name, c.source])).to.deep.equal([
      ['lake', 'env'],
      ['warehouse', 'store'],
    ]);
    expect(listed[0].url).to.equal('s3://b/p?region=us-west-2&access_key_id=AK&secret_access_key=***');
    expect(listed[1].shadows).to.deep.equal([{ source: 'config', url: 'pglite:warehouse' }]);
    const table = await sluice('connections', 'list');
    expect(table).to.match(/warehouse\s+store \(over config\)\s+redshift:\/\/dwhuser@h\.example/);
    expect(table).not.to.include('SK');
    expect(await sluice('connections', 'get', 'warehouse')).to.include('cluster_identifier: c1');
  });

  it('set refuses literal secrets and bad URLs; get and delete name unknown connections', async () => {
    let err = await sluice('connections', 'set', 'warehouse', 'redshift://u:hunter2@h:5439/db').catch((e: Error) => e);
    expect(err).to.be.instanceOf(UsageError);
    expect((err as Error).message)
      .to.include('password_env')
      .and.not.include('hunter2');
    err = await sluice('connections', 'set', 'warehouse', 'redshift://u@h/db?colour=blue').catch((e: Error) => e);
    expect((err as Error).message).to.include("unknown redshift URL parameter 'colour'");
    err = await sluice('connections', 'set', 'warehouse', 'redshift://u@h/db', '--extra', '{"password":"x"}').catch(
      (e: Error) => e,
    );
    expect((err as Error).message).to.include('secret');
    err = await sluice('connections', 'get', 'warehose').catch((e: Error) => e);
    expect((err as Error).message).to.include("did you mean 'warehouse'");
    err = await sluice('connections', 'delete', 'warehouse').catch((e: Error) => e);
    expect((err as Error).message).to.include("stores no connection 'warehouse'");
  });

  it('delete removes the stored connection; the config value applies again', async () => {
    await store.connections.set('warehouse', 'redshift://u@h:5439/db', { now: new Date() });
    expect(await sluice('connections', 'delete', 'warehouse')).to.include('now config: pglite:warehouse');
    expect(await store.connections.get('warehouse')).to.equal(undefined);
  });
});
