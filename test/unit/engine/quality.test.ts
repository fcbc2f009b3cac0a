/** engine/quality.ts: how a try's outputs become stored check results and row counts. */
import { expect } from 'chai';
import { asChecks, checkResultsOf, rowCountsOf } from '../../../engine/quality.js';

describe('quality: outputs to stored results', () => {
  it('normalises DataQuality results: status from passed, severity and error; samples from details', () => {
    const out = checkResultsOf({
      checks: [
        {
          name: 'a',
          type: 'row_count',
          table: 't',
          severity: 'error',
          passed: true,
          observed: 3,
          expected: '>= 1',
          duration_ms: 2.5,
        },
        {
          name: 'b',
          type: 'unique',
          table: 't',
          severity: 'error',
          passed: false,
          observed: 1,
          expected: '0',
          details: { sample: [{ k: 1 }] },
        },
        {
          name: 'c',
          type: 'accepted_values',
          severity: 'warn',
          passed: false,
          observed: 2,
          details: { unexpected_values: [{ value: 'x', n: 2 }] },
        },
        {
          name: 'd',
          type: 'row_count',
          severity: 'warn',
          passed: false,
          observed: null,
          error: 'relation "nope" does not exist',
        },
        { type: 'plugin', result: 'passed', expectation: 5, message: 'fine' },
        'not a check',
      ],
    });
    expect(out.map((c) => [c.name, c.status, c.table, c.sample, c.message, c.durationMs])).to.deep.equal([
      ['a', 'pass', 't', null, null, 2.5],
      ['b', 'fail', 't', [{ k: 1 }], null, null],
      ['c', 'warn', null, [{ value: 'x', n: 2 }], null, null],
      ['d', 'error', null, null, 'relation "nope" does not exist', null],
      ['plugin', 'pass', null, null, 'fine', null],
    ]);
    expect(out[4]).to.include({ type: 'plugin', severity: 'error', expected: 5, observed: null });
    expect(checkResultsOf({})).to.deep.equal([]);
  });

  it('row counts from the load operators: rows_loaded, rows_inserted or rows; none for a rolled-back load', () => {
    expect(rowCountsOf({ table: 'staging_events', rows_loaded: 400, rows_deleted: 0 })).to.deep.equal([
      { table: 'staging_events', rows: 400 },
    ]);
    expect(rowCountsOf({ table: 'songplays', rows_deleted: 3, rows_inserted: 342 })).to.deep.equal([
      { table: 'songplays', rows: 342 },
    ]);
    expect(rowCountsOf({ table: 'x', rows: 7 })).to.deep.equal([{ table: 'x', rows: 7 }]);
    expect(rowCountsOf({ table: 'x', rows_loaded: 0, rolled_back: true })).to.deep.equal([]);
    expect(rowCountsOf({ statements: 2, row_counts: [1, 2] })).to.deep.equal([]);
  });

  it('asChecks keeps the summary shape the CLI shows', () => {
    expect(asChecks([{ name: 'a', severity: 'warn', passed: false, observed: 1, expected: 0 }])).to.deep.equal([
      { name: 'a', type: undefined, severity: 'warn', passed: false, observed: 1, expected: 0, message: undefined },
    ]);
  });
});
