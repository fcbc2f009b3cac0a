import { expect } from 'chai';
import { didYouMean, nearest } from '../../../engine/dag/suggest.js';

describe('"did you mean" (one rule for the DAG loader and the CLI)', () => {
  it('suggests a plausible typo, ignoring case', () => {
    expect(didYouMean('exmaple', ['example', 'songplays'])).to.equal("; did you mean 'example'?");
    expect(didYouMean('warehose', ['lake', 'warehouse'])).to.equal("; did you mean 'warehouse'?");
    expect(nearest('EMTPY', ['Empty', 'Load'])).to.equal('Empty');
  });

  it('suggests nothing for a name that is not near any: at most 3 edits and under half the length', () => {
    expect(didYouMean('ab', ['xy'])).to.equal('');
    expect(didYouMean('songplays_hourly', ['songplays_daily'])).to.equal('');
    expect(didYouMean('anything', [])).to.equal('');
  });

  it('with a tail, the tail follows as its own sentence', () => {
    expect(didYouMean('Emtpy', ['Empty'], 'registered: Empty')).to.equal("; did you mean 'Empty'? Registered: Empty");
    expect(didYouMean('zzz', ['Empty'], 'registered: Empty')).to.equal('; registered: Empty');
  });
});
