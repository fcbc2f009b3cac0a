/**
 * `sluice pools` on the default SQLite state: set, list and delete, and the
 * errors a user can make (a bad name, bad slots, an unknown pool), each
 * refused with exit 2 saying what to do, changing nothing.
 */
import { expect } from 'chai';
import { Project } from '../helpers/cli.js';

describe('e2e: sluice pools', function () {
  this.timeout(120_000);
  let p: Project;
  before(() => (p = new Project()));
  after(() => p.remove());

  it('sets, lists and deletes pools; refuses a bad name, bad slots and an unknown pool', () => {
    const set = p.run(['pools', 'set', 'warehouse', '4', '--description', 'loads at once']);
    expect([set.code, set.stdout]).to.deep.equal([0, 'pool warehouse: 4 slot(s)\n']);
    const resized = p.run(['pools', 'set', 'warehouse', '2']);
    expect(resized.code, resized.stderr).to.equal(0);

    const badName = p.run(['pools', 'set', 'two words', '2']);
    expect([badName.code, badName.stderr]).to.deep.equal([
      2,
      "error: pool 'two words' is not a pool name: use only letters, digits, _ . and -\n",
    ]);
    const badSlots = p.run(['pools', 'set', 'api', 'many']);
    expect([badSlots.code, badSlots.stderr]).to.deep.equal([2, "error: slots 'many' must be a whole number >= 0\n"]);
    const unknown = p.run(['pools', 'delete', 'api']);
    expect([unknown.code, unknown.stderr]).to.deep.equal([2, "error: no pool 'api' (see: sluice pools list)\n"]);

    const listed = p.run(['pools', 'list', '--json']);
    expect(listed.code, listed.stderr).to.equal(0);
    const pools = JSON.parse(listed.stdout) as Record<string, unknown>[];
    expect(pools.map(({ updated_at: _u, ...rest }) => rest)).to.deep.equal([
      { name: 'warehouse', slots: 2, running: 0, starting: 0, open: 2, description: 'loads at once' },
    ]);
    expect(p.run(['pools', 'list']).stdout).to.match(
      /^pool\s+slots\s+running\s+starting\s+open\s+description\n[- ]+\nwarehouse\s+2\s+0\s+0\s+2\s+loads at once/,
    );

    const del = p.run(['pools', 'delete', 'warehouse']);
    expect([del.code, del.stdout]).to.deep.equal([0, 'pool warehouse deleted\n']);
    expect(JSON.parse(p.run(['pools', 'list', '--json']).stdout)).to.deep.equal([]);
  });
});
