/**
 * A sensor in reschedule mode across a scheduler restart: the scheduler is
 * killed (kill -9) while the sensor waits between two pokes; a new scheduler
 * finds the task up_for_reschedule (no try was running: nothing to recover)
 * and finishes it, its timeout still measured from the first poke. The
 * downstream Shell task reads the sensor's output in its template.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { Project } from '../helpers/cli.js';

const DAG = `
dag: waits
schedule: "@daily"
start_date: 2024-01-01
end_date: 2024-01-01
catchup: true
tasks:
  wait:
    operator: LakeKeySensor
    key: "ready/{{ ds }}.txt"
    mode: reschedule
    poke_interval: 1s
    timeout: 1h
  after:
    operator: Shell
    upstream: [wait]
    command: "echo found {{ outputs.wait.keys[0] }}"
`;

interface Row {
  [k: string]: unknown;
}

function query(p: Project, sql: string): Row[] {
  const file = path.join(p.dir, '.sluice', 'state.db');
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Row[];
  } catch {
    return []; // the schema may not be there yet
  } finally {
    db.close();
  }
}

async function until(what: string, test: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('sensor in reschedule mode across a scheduler restart (kill -9)', function () {
  this.timeout(120_000);
  let p: Project;
  let lake: string;
  beforeEach(() => {
    p = new Project();
    lake = path.join(p.dir, 'lake');
    fs.mkdirSync(lake);
    p.write('dags/waits.yaml', DAG);
  });
  afterEach(() => p.remove());

  it('the next scheduler finishes the sensor; no try was lost or failed, the wait counts from the first poke', async () => {
    const env = { SLUICE_CONN_LAKE: lake };
    const first = p.start(['scheduler'], { env });
    // Two pokes made, and the task waiting for its third (holding no slot, no try running).
    await until(
      'two rescheduled pokes',
      () =>
        query(p, "SELECT 1 FROM task_instances WHERE task_id = 'wait' AND state = 'up_for_reschedule' AND try_number >= 2")
          .length > 0,
    );
    first.kill('SIGKILL');
    await first.done;
    const atKill = query(p, "SELECT state, try_number FROM task_instances WHERE task_id = 'wait'")[0]!;
    // Killed between two pokes (the next was a second away): the task holds no try, only its next poke time.
    expect(atKill.state).to.equal('up_for_reschedule');
    expect(query(p, "SELECT 1 FROM task_tries WHERE state = 'running'")).to.deep.equal([]);
    const firstPokeAt = Date.parse(
      JSON.parse(
        query(p, 'SELECT o.outputs FROM task_tries t JOIN task_outputs o USING (try_id) WHERE t.try_number = 1')[0]!
          .outputs as string,
      ).first_poke_at,
    );

    await new Promise((r) => setTimeout(r, 1500));
    fs.mkdirSync(path.join(lake, 'ready'));
    fs.writeFileSync(path.join(lake, 'ready', '2024-01-01.txt'), 'go\n');
    const second = p.start(['scheduler'], { env });
    await until('the run to succeed', () => query(p, "SELECT 1 FROM dag_runs WHERE state = 'success'").length > 0);
    second.kill('SIGTERM');
    expect(await second.done).to.equal(0);

    const tries = query(p, "SELECT try_number, state, error, try_id FROM task_tries WHERE task_id = 'wait' ORDER BY try_id");
    const states = tries.map((t) => t.state);
    expect(states.at(-1)).to.equal('success');
    // No try failed (none was running when the scheduler died); every earlier poke was a rescheduled try.
    expect(tries.map((t) => t.error)).to.deep.equal(tries.map(() => null));
    expect(states.slice(0, -1)).to.deep.equal(states.slice(0, -1).map(() => 'up_for_reschedule'));
    expect(states.length).to.be.at.least(3);
    const last = JSON.parse(
      query(p, `SELECT outputs FROM task_outputs WHERE try_id = ${Number(tries.at(-1)!.try_id)}`)[0]!.outputs as string,
    ) as { poke_count: number; waited_ms: number; keys: string[] };
    expect(last.keys).to.deep.equal(['ready/2024-01-01.txt']);
    expect(last.poke_count).to.be.at.least(3);
    // Measured from the first poke, made by the killed scheduler.
    const lastStart = Date.parse(
      query(p, `SELECT started_at FROM task_tries WHERE try_id = ${Number(tries.at(-1)!.try_id)}`)[0]!.started_at as string,
    );
    expect(last.waited_ms).to.be.at.least(lastStart - firstPokeAt - 50);
    expect(last.waited_ms).to.be.at.least(1500);

    const after = query(
      p,
      "SELECT o.outputs FROM task_tries t JOIN task_outputs o USING (try_id) WHERE t.task_id = 'after' AND t.state = 'success'",
    );
    expect(JSON.parse(after[0]!.outputs as string)).to.deep.include({ return_value: 'found ready/2024-01-01.txt' });
  });
});
