import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../engine/config.js';
import { defaultArgsShape } from '../../../engine/dag/schema.js';
import { duration } from '../../../engine/operator.js';
import { ConfigError } from '../../../engine/errors.js';
import { CreateCluster } from '../../../operators/create-cluster.js';
import { DeleteCluster } from '../../../operators/delete-cluster.js';
import { tmpDir } from '../../helpers/engine.js';

/** The message of the first issue of a failed parse. */
function issue(r: { success: boolean; error?: { issues: { message: string }[] } }): string {
  expect(r.success).to.equal(false);
  return r.error!.issues[0]!.message;
}

/** The ConfigError of a config file whose grace_period is `value` (YAML). */
function configError(value: string): string {
  const file = path.join(tmpDir(), 'sluice.yaml');
  fs.writeFileSync(file, `scheduler:\n  grace_period: ${value}\n`);
  try {
    loadConfig({ cwd: path.dirname(file), file, env: {} });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the config loaded');
}

describe('one duration schema for DAG task keys, operator parameters and the config file', () => {
  it('the kit atom parses every form to milliseconds', () => {
    expect(duration.parse('90s')).to.equal(90_000);
    expect(duration.parse('1h 30m')).to.equal(5_400_000);
    expect(duration.parse(2)).to.equal(2000);
    expect(issue(duration.safeParse('5x'))).to.match(/^invalid duration '5x': use a number of seconds \(90\) or /);
    expect(issue(duration.safeParse(true))).to.match(/^must be a duration: a number of seconds \(90\) or 500ms/);
  });

  it('DAG task keys, CreateCluster, DeleteCluster and the config say the same about the same value', () => {
    const retryDelay = defaultArgsShape.retry_delay;
    for (const bad of ['5x', '36526d', -1, true, ['1m']]) {
      const expected = issue(duration.safeParse(bad));
      expect(issue(retryDelay.safeParse(bad))).to.equal(expected);
      expect(issue(CreateCluster.params.safeParse({ wait_timeout: bad }))).to.equal(expected);
      expect(issue(DeleteCluster.params.safeParse({ poll_interval: bad }))).to.equal(expected);
      expect(configError(JSON.stringify(bad))).to.contain(`scheduler.grace_period: ${expected}`);
    }
    expect(CreateCluster.params.parse({ wait_timeout: '10m', poll_interval: 5 })).to.deep.include({
      wait_timeout: 600_000,
      poll_interval: 5000,
    });
    expect(loadConfigGrace('1m 30s')).to.equal(90_000);
  });
});

function loadConfigGrace(value: string): number {
  const file = path.join(tmpDir(), 'sluice.yaml');
  fs.writeFileSync(file, `scheduler:\n  grace_period: ${value}\n`);
  return loadConfig({ cwd: path.dirname(file), file, env: {} }).scheduler.gracePeriodMs;
}
