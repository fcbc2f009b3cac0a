/**
 * TEXT and BPCHAR columns in DDL, which Redshift creates as VARCHAR(256) and
 * CHAR(256) (r_Character_types): found in CREATE TABLE statements with their
 * line, ignoring comments, strings, table constraints and other types.
 */
import { expect } from 'chai';
import { findRenamedColumns, renamedColumnMessage } from '../../../engine/dag/redshift-types.js';

describe('TEXT/BPCHAR columns Redshift renames [r_Character_types]', () => {
  it('finds each TEXT and bare BPCHAR column of every CREATE TABLE, with its line', () => {
    const sql = [
      '-- a comment: CREATE TABLE nope (a text)',
      'CREATE TABLE IF NOT EXISTS public.users (',
      '  id int PRIMARY KEY,',
      "  name TEXT DEFAULT 'x, text',",
      '  "Code" bpchar,',
      '  fixed bpchar(4),',
      '  text varchar(10),',
      '  amount numeric(10, 2),',
      '  CONSTRAINT u UNIQUE (name)',
      ');',
      '/* CREATE TABLE hidden (b text) */',
      'create temp table t2 (note text);',
      "SELECT 'CREATE TABLE s (c text)';",
    ].join('\n');
    expect(findRenamedColumns(sql)).to.deep.equal([
      { table: 'public.users', column: 'name', type: 'TEXT', line: 4 },
      { table: 'public.users', column: 'Code', type: 'bpchar', line: 5 },
      { table: 't2', column: 'note', type: 'text', line: 12 },
    ]);
  });

  it('finds nothing in DDL without them (the shipped tables use VARCHAR)', () => {
    expect(findRenamedColumns('CREATE TABLE a (t varchar(256), c char(2), x timestamp)')).to.deep.equal([]);
    expect(findRenamedColumns('SELECT text FROM a')).to.deep.equal([]);
  });

  it('says what Redshift makes of the type and what to do', () => {
    const m = renamedColumnMessage({ table: 'users', column: 'name', type: 'text', line: 1 });
    expect(m).to.match(/column 'name' of table 'users' is TEXT, which Redshift creates as VARCHAR\(256\)/);
    expect(m).to.match(/will be rejected there/);
    expect(renamedColumnMessage({ table: 't', column: 'c', type: 'BPCHAR', line: 1 })).to.contain('CHAR(256)');
  });
});
