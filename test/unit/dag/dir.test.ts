import { expect } from 'chai';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDagsDir } from '../../../engine/dag/index.js';
import { testRegistry } from './helpers.js';

const dir = fileURLToPath(new URL('../../fixtures/dags/dir', import.meta.url));

describe('loadDagsDir', () => {
  const { dags, errors } = loadDagsDir(dir, testRegistry());

  it('loads every good *.yaml / *.yml file, recursing but skipping dot folders and other files', () => {
    expect(dags.map((d) => d.id)).to.deep.equal(['hourly', 'daily', 'weekly']);
    expect(dags.map((d) => d.file)).to.deep.equal([
      join(dir, 'a_hourly.yaml'),
      join(dir, 'c_daily.yml'),
      join(dir, 'nested', 'e_weekly.yaml'),
    ]);
  });

  it('reports a bad file without hiding the others', () => {
    const broken = errors.find((e) => e.file.endsWith('b_broken.yaml'));
    expect(broken?.problems[0]?.message).to.match(/^unknown operator 'Emtpy'; did you mean 'Empty'\?/);
    expect(broken?.problems[0]?.pos).to.deep.include({ line: 4, col: 15 });
  });

  it('reports a duplicate dag id in the later file, naming both files', () => {
    const dup = errors.find((e) => e.file.endsWith('d_dup.yaml'));
    expect(dup).to.not.equal(undefined);
    const [p] = dup!.problems;
    expect(p!.pos).to.deep.equal({ file: join(dir, 'd_dup.yaml'), line: 2, col: 6 });
    expect(p!.path).to.equal('dag');
    expect(p!.message).to.equal(
      `dag id 'hourly' is already defined in ${join(dir, 'a_hourly.yaml')}:1:6; DAG ids must be unique: ` +
        `rename the DAG in ${join(dir, 'd_dup.yaml')} or in ${join(dir, 'a_hourly.yaml')}`,
    );
  });

  it('has exactly the two errors', () => {
    expect(errors).to.have.length(2);
  });
});
