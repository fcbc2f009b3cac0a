/**
 * Operators benchmark (BENCH=operators), through the real runner, SQLite
 * state store and operators:
 *
 * - 100 LakeKeySensor tasks in `mode: reschedule` waiting at once, sharing 8
 *   task slots as a scheduler's parallelism: how many slots they hold while
 *   every one of them waits (target 0: a slot only while poking, one per
 *   sensor), and the process's CPU while they wait, as a share of one core
 *   (target <= 2 %), next to the same process doing nothing for as long.
 * - A Shell task's overhead over running the same command directly
 *   (`/bin/sh -c true`, spawned and waited for): the median of the try's
 *   duration and of the whole one-task run, minus the median direct run
 *   (target <= 20 ms).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createConnectionResolver } from '../engine/connections/index.js';
import { loadDagSource } from '../engine/dag/index.js';
import type { ConnectionResolver, Dag } from '../engine/interfaces.js';
import { createSinkLogger, TaskLogSink } from '../engine/log.js';
import { executeRun, Slots, type RunEvent } from '../engine/run/runner.js';
import { Runs } from '../engine/run/runs.js';
import { SqliteStateStore } from '../engine/state/sqlite/index.js';
import { defaultRegistry } from '../operators/index.js';

const SENSORS = Number(process.env.BENCH_SENSORS ?? 100);
const SLOTS = 8;
/** Long enough that the whole first wave of pokes ends well before the second. */
const POKE_INTERVAL_S = 20;
const IDLE_WINDOW_MS = 8_000;
const SHELL_RUNS = Number(process.env.BENCH_SHELL_RUNS ?? 25);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** CPU time (user + system) this process used while `wait` ran, as a % of one core over its wall time. */
async function cpuShare(wait: () => Promise<void>): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await wait();
  const cpu = process.cpuUsage(cpu0);
  return ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;
}

function wiring(dir: string, connections: ConnectionResolver) {
  const store = new SqliteStateStore(path.join(dir, 'state.db'));
  const registry = defaultRegistry();
  const logger = createSinkLogger(new TaskLogSink(store.logs, null), 'info');
  const runs = new Runs(store);
  return { store, registry, logger, runs, connections };
}

async function newRun(w: ReturnType<typeof wiring>, dag: Dag, day: Date): Promise<string> {
  const run = await w.runs.createRun({
    dag,
    interval: { start: day, end: new Date(day.getTime() + 86_400_000) },
    runType: 'manual',
  });
  if (!run) throw new Error(`no run for ${day.toISOString()}`);
  return run.runId;
}

async function sensors(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-ops-'));
  const lake = path.join(dir, 'lake');
  fs.mkdirSync(path.join(lake, 'ready'), { recursive: true });
  const connections = createConnectionResolver({ lake }, { home: dir });
  const w = wiring(dir, connections);
  try {
    const lines = ['dag: waiting', 'max_active_tasks: 1024', 'tasks:'];
    for (let i = 0; i < SENSORS; i++) {
      lines.push(
        `  s${i}:`,
        '    operator: LakeKeySensor',
        `    key: ready/s${i}.txt`,
        '    mode: reschedule',
        `    poke_interval: ${POKE_INTERVAL_S}s`,
        '    timeout: 1h',
      );
    }
    const dag = loadDagSource(lines.join('\n') + '\n', path.join(dir, 'waiting.yaml'), w.registry);
    const runId = await newRun(w, dag, new Date('2024-01-01T00:00:00Z'));
    const slots = new Slots(SLOTS);
    const waiting = new Set<string>();
    let pokes = 0;
    const onEvent = (e: RunEvent) => {
      if (e.type !== 'task') return;
      if (e.state === 'running') pokes++;
      if (e.state === 'up_for_reschedule') waiting.add(e.taskId);
      else waiting.delete(e.taskId);
    };
    let maxInUse = 0;
    const sampler = setInterval(() => (maxInUse = Math.max(maxInUse, slots.inUse)), 10);
    const t0 = performance.now();
    const done = executeRun(
      dag,
      runId,
      { ...w, parallelism: 1024, resolvePath: (p) => path.resolve(dir, p), onEvent },
      { slots },
    );
    while (waiting.size < SENSORS) await sleep(20);
    const firstWaveMs = performance.now() - t0;
    clearInterval(sampler);

    // Every sensor waits for its next poke: how many slots are held, and what the process spends.
    let idleMaxInUse = 0;
    const idleCpu = await cpuShare(async () => {
      const until = performance.now() + IDLE_WINDOW_MS;
      while (performance.now() < until) {
        idleMaxInUse = Math.max(idleMaxInUse, slots.inUse);
        await sleep(50);
      }
    });
    const stillWaiting = waiting.size;
    const baselineCpu = await cpuShare(() => sleep(IDLE_WINDOW_MS));

    for (let i = 0; i < SENSORS; i++) fs.writeFileSync(path.join(lake, 'ready', `s${i}.txt`), 'go');
    const state = await done;
    if (state !== 'success') throw new Error(`sensor bench run ended ${state}`);
    const tries = await w.store.tasks.tries(runId);
    const pokeMs = tries.map((t) => t.durationMs ?? 0);
    return {
      sensors: SENSORS,
      'task slots': SLOTS,
      'first wave of pokes ms': firstWaveMs.toFixed(0),
      'slots held while all wait (max)': idleMaxInUse,
      'sensors waiting': stillWaiting,
      'slots in use while poking (max)': maxInUse,
      pokes,
      'slot held per poke ms (median)': median(pokeMs).toFixed(1),
      'idle CPU % of one core': idleCpu.toFixed(2),
      'same process doing nothing %': baselineCpu.toFixed(2),
      '<= 1 slot each, only while poking': idleMaxInUse === 0 && maxInUse <= SLOTS ? 'yes' : 'NO',
      'idle CPU <= 2%': idleCpu <= 2 ? 'yes' : 'NO',
    };
  } finally {
    await connections.closeAll();
    await w.store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `/bin/sh -c <command>`, spawned and waited for: ms. */
function direct(command: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.resume();
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', () => resolve(performance.now() - t0));
  });
}

async function shellOverhead(): Promise<Record<string, unknown>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-shell-'));
  const none: ConnectionResolver = createConnectionResolver({}, { home: dir });
  const w = wiring(dir, none);
  const command = 'echo done';
  try {
    const dag = loadDagSource(
      `dag: shell_once\ntasks:\n  t:\n    operator: Shell\n    command: "${command}"\n`,
      path.join(dir, 'shell_once.yaml'),
      w.registry,
    );
    const directMs: number[] = [];
    const runMs: number[] = [];
    const tryMs: number[] = [];
    for (let i = -3; i < SHELL_RUNS; i++) {
      // Alternated, so both see the same machine; the first 3 of each warm up.
      const d = await direct(command);
      const runId = await newRun(w, dag, new Date(Date.UTC(2024, 0, 1) + (i + 3) * 86_400_000));
      const t0 = performance.now();
      const state = await executeRun(dag, runId, { ...w, parallelism: 4, resolvePath: (p) => path.resolve(dir, p) });
      const r = performance.now() - t0;
      if (state !== 'success') throw new Error(`shell bench run ended ${state}`);
      if (i < 0) continue;
      directMs.push(d);
      runMs.push(r);
      tryMs.push((await w.store.tasks.tries(runId, 't'))[0]!.durationMs ?? NaN);
    }
    const base = median(directMs);
    const overTry = median(tryMs) - base;
    return {
      command,
      runs: SHELL_RUNS,
      'direct sh -c ms (median)': base.toFixed(1),
      'Shell try ms (median)': median(tryMs).toFixed(1),
      'whole run ms (median)': median(runMs).toFixed(1),
      'try overhead ms': overTry.toFixed(1),
      'run overhead ms': (median(runMs) - base).toFixed(1),
      'try overhead <= 20ms': overTry <= 20 ? 'yes' : 'NO',
    };
  } finally {
    await w.store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchOperators(): Promise<Record<string, unknown>[]> {
  return [await sensors(), await shellOverhead()];
}
