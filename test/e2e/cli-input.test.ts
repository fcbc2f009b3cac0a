/**
 * Bad input on the command line and in the DAG folder, as a careless or
 * hostile user gives it: each gets a short, clear error and the exit code of
 * its kind (2 for usage and validation errors).
 */
import { expect } from 'chai';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Project, ROOT } from '../helpers/cli.js';

describe('CLI: bad input gets a clear error and the right exit code', function () {
  this.timeout(120_000);
  let p: Project;
  before(() => {
    p = new Project();
    p.write('dags/example.yaml', fs.readFileSync(path.join(ROOT, 'dags', 'example.yaml'), 'utf8'));
  });
  after(() => p.remove());

  it('a binary file in the DAG folder is named as not a text file, without echoing its bytes', () => {
    // Random bytes with a NUL early on and a long run without newlines, like an image or an archive.
    const bytes = Buffer.concat([Buffer.from('dag: x\n'), Buffer.from([0]), crypto.randomBytes(4000)]);
    const file = path.join(p.dir, 'dags', 'picture.yaml');
    fs.writeFileSync(file, bytes);
    try {
      const r = p.run(['dags', 'validate']);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.contain('dags/picture.yaml');
      expect(r.stdout).to.match(/picture\.yaml:2:1: this is not a text file \(the control character U\+0000\)/);
      // The example DAG is still reported valid: one bad file never hides the others.
      expect(r.stdout).to.match(/ok +dags\/example\.yaml/);
      expect(r.stdout.length).to.be.below(1000);
    } finally {
      fs.rmSync(file);
    }
  });

  it('a YAML error on a very long line quotes a short excerpt, not the whole line', () => {
    const file = p.write('dags/long.yaml', `dag: long\ntasks:\n  a: { operator: Empty }\n"x" ${'y'.repeat(5000)}\n`);
    try {
      const r = p.run(['dags', 'validate', file]);
      expect(r.code).to.equal(2);
      expect(r.stdout).to.contain('YAML syntax error');
      expect(r.stdout.length).to.be.below(1000);
    } finally {
      fs.rmSync(file);
    }
  });

  it('an unknown run, task or try is a usage error (exit 2), as an unknown DAG is', () => {
    const dag = p.run(['run-dag', 'nope']);
    expect(dag.code).to.equal(2);
    for (const args of [
      ['tasks', 'list', 'nope'],
      ['logs', 'nope', 'x'],
      ['tasks', 'clear', 'nope'],
      ['runs', 'mark', 'nope', 'success'],
      ['report', 'example', '--run', 'nope'],
    ]) {
      const r = p.run(args);
      expect(r.code, args.join(' ')).to.equal(2);
      expect(r.stderr, args.join(' ')).to.contain("no run 'nope'");
    }
    const ok = p.run(['run-dag', 'example', '--date', '2024-01-01']);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    const runId = 'example__manual__2024-01-01T00:00:00Z';
    const task = p.run(['logs', runId, 'nope']);
    expect(task.code).to.equal(2);
    expect(task.stderr).to.contain("has no task 'nope'");
    const tryN = p.run(['logs', runId, 'begin', '--try', '9']);
    expect(tryN.code).to.equal(2);
    expect(tryN.stderr).to.contain('has no try 9');
  });

  it('runs list --state accepts only real run states', () => {
    const bad = p.run(['runs', 'list', '--state', 'bogus']);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.match(/Allowed choices are queued, running, success, failed/);
    const good = p.run(['runs', 'list', '--state', 'success']);
    expect(good.code).to.equal(0);
  });
});
