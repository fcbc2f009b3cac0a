import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { checkDagsFolder, dagFiles, dagsFolderSignature } from '../../../engine/dag/folder.js';
import { DagsFolderError } from '../../../engine/errors.js';
import { tmpDir } from '../../helpers/engine.js';

/** A DAG folder with a file at each level the walk treats differently. */
function folder(): string {
  const dir = path.join(tmpDir(), 'dags');
  fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
  fs.mkdirSync(path.join(dir, '.hidden'));
  fs.writeFileSync(path.join(dir, 'b.yml'), 'dag: b\n');
  fs.writeFileSync(path.join(dir, 'a.yaml'), 'dag: a\n');
  fs.writeFileSync(path.join(dir, 'notes.txt'), 'not a DAG\n');
  fs.writeFileSync(path.join(dir, '.draft.yaml'), 'dag: draft\n');
  fs.writeFileSync(path.join(dir, '.hidden', 'h.yaml'), 'dag: h\n');
  fs.writeFileSync(path.join(dir, 'nested', 'c.YAML'), 'dag: c\n');
  return dir;
}

describe('the DAG folder walk (loader and scheduler share it)', () => {
  it('lists *.yaml / *.yml files in name order, recursing, skipping dot files, dot folders and other files', () => {
    const dir = folder();
    expect(dagFiles(dir)).to.deep.equal([path.join(dir, 'a.yaml'), path.join(dir, 'b.yml'), path.join(dir, 'nested', 'c.YAML')]);
  });

  it('a missing or non-folder DAG folder is a DagsFolderError naming it', () => {
    const dir = path.join(tmpDir(), 'nowhere');
    expect(() => dagFiles(dir)).to.throw(DagsFolderError, dir);
    expect(() => checkDagsFolder(dir)).to.throw(DagsFolderError, dir);
    const file = path.join(tmpDir(), 'a-file');
    fs.writeFileSync(file, '');
    expect(() => dagFiles(file)).to.throw(DagsFolderError, file);
  });

  it('the signature changes when a DAG file is written, touched, added or removed, and only then', () => {
    const dir = folder();
    const first = dagsFolderSignature(dir);
    expect(dagsFolderSignature(dir)).to.equal(first);
    // files the loader does not read change nothing
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'still not a DAG, longer now\n');
    fs.writeFileSync(path.join(dir, '.hidden', 'h.yaml'), 'dag: h2\n');
    expect(dagsFolderSignature(dir)).to.equal(first);
    // a new size
    fs.writeFileSync(path.join(dir, 'nested', 'c.YAML'), 'dag: c\n# more\n');
    const resized = dagsFolderSignature(dir);
    expect(resized).to.not.equal(first);
    // same size, new mtime
    const when = new Date('2001-02-03T04:05:06Z');
    fs.utimesSync(path.join(dir, 'a.yaml'), when, when);
    const touched = dagsFolderSignature(dir);
    expect(touched).to.not.equal(resized);
    fs.writeFileSync(path.join(dir, 'nested', 'd.yaml'), 'dag: d\n');
    const added = dagsFolderSignature(dir);
    expect(added).to.not.equal(touched);
    fs.rmSync(path.join(dir, 'nested', 'd.yaml'));
    expect(dagsFolderSignature(dir)).to.equal(touched);
  });

  it('the signature changes when the folder goes missing and when it comes back', () => {
    const dir = folder();
    const present = dagsFolderSignature(dir);
    fs.renameSync(dir, `${dir}.away`);
    const missing = dagsFolderSignature(dir);
    expect(missing).to.not.equal(present);
    expect(dagsFolderSignature(dir)).to.equal(missing);
    fs.renameSync(`${dir}.away`, dir);
    expect(dagsFolderSignature(dir)).to.equal(present);
  });
});
