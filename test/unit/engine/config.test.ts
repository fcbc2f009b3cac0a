import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, DEFAULT_CONFIG_FILE } from '../../../engine/config.js';
import { ConfigError } from '../../../engine/errors.js';
import { tmpDir } from '../../helpers/engine.js';

describe('configuration', () => {
  const cwd = tmpDir();

  it('has zero-set-up defaults: embedded warehouse and a local lake under .sluice', () => {
    const c = loadConfig({ cwd, env: {} });
    expect(c.file).to.equal(DEFAULT_CONFIG_FILE);
    expect(c.home).to.equal(path.join(cwd, '.sluice'));
    expect(c.stateDbPath).to.equal(path.join(cwd, '.sluice', 'state.db'));
    expect(c.dagsDir).to.equal(path.join(cwd, 'dags'));
    expect(c.parallelism).to.equal(8);
    expect(c.connections).to.deep.equal({ warehouse: 'pglite:warehouse', lake: 'lake' });
    expect(c.envConnections).to.deep.equal({});
    expect(c.scheduler.gracePeriodMs).to.equal(30_000);
  });

  it('SLUICE_HOME, SLUICE_CONFIG and SLUICE_CONN_<NAME> override', () => {
    const file = path.join(cwd, 'my.yaml');
    fs.writeFileSync(file, 'parallelism: 3\nconnections:\n  warehouse: pglite:wh\n');
    const c = loadConfig({
      cwd,
      env: {
        SLUICE_CONFIG: file,
        SLUICE_HOME: '/srv/sluice',
        SLUICE_CONN_WAREHOUSE: 'postgres://u:p@h/db',
        SLUICE_CONN_EXTRA_LAKE: 's3://b/',
      },
    });
    expect(c.parallelism).to.equal(3);
    expect(c.home).to.equal('/srv/sluice');
    expect(c.connections).to.deep.equal({ warehouse: 'pglite:wh' });
    expect(c.envConnections).to.deep.equal({ warehouse: 'postgres://u:p@h/db', extra_lake: 's3://b/' });
  });

  it('names the key of a bad setting', () => {
    const file = path.join(cwd, 'bad.yaml');
    fs.writeFileSync(file, 'parallelism: zero\nscheduler:\n  grace_period: 5x\nunknown_key: 1\n');
    let err: unknown;
    try {
      loadConfig({ cwd, file, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).to.contain(`${file}: parallelism:`);
    expect(msg).to.contain(`${file}: scheduler.grace_period:`);
    expect(msg).to.match(/unknown_key/);
  });

  it('reports YAML syntax errors and missing files with the file name', () => {
    const file = path.join(cwd, 'syntax.yaml');
    fs.writeFileSync(file, 'parallelism: [1\n');
    expect(() => loadConfig({ cwd, file, env: {} })).to.throw(ConfigError, file);
    expect(() => loadConfig({ cwd, file: 'nope.yaml', env: {} })).to.throw(ConfigError, /cannot read config file .*nope.yaml/);
  });
});
