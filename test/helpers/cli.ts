/**
 * Runs the real CLI as a child process (through tsx, from the sources) in a
 * scratch project folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './engine.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = path.join(ROOT, 'engine', 'cli', 'main.ts');
const RUN_DAG = path.join(ROOT, 'engine', 'cli', 'run-dag.ts');
export const PLUGIN = path.join(ROOT, 'test', 'fixtures', 'plugin-operators.ts');
/** tsx's loader, by URL, so children in other folders find it. */
const TSX = import.meta.resolve('tsx');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Project {
  readonly dir = tmpDir('sluice-cli-');
  constructor(readonly env: NodeJS.ProcessEnv = {}) {
    fs.mkdirSync(path.join(this.dir, 'dags'));
  }

  /** Writes a file relative to the project folder. */
  write(rel: string, text: string): string {
    const file = path.join(this.dir, rel);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  }

  private spawnEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, SLUICE_PLUGINS: PLUGIN, NO_COLOR: '1', ...this.env, ...extra };
    for (const k of Object.keys(env)) if (k.startsWith('SLUICE_CONN_') && !(k in this.env) && !(k in extra)) delete env[k];
    delete env.SLUICE_HOME;
    delete env.SLUICE_CONFIG;
    if (!('SLUICE_STATE' in this.env) && !('SLUICE_STATE' in extra)) delete env.SLUICE_STATE;
    return env;
  }

  /** `sluice ARGS` (or `run-dag ARGS` with bin 'run-dag'), waiting for it to end. */
  run(args: string[], opts: { env?: NodeJS.ProcessEnv; bin?: 'sluice' | 'run-dag' } = {}): CliResult {
    const script = opts.bin === 'run-dag' ? RUN_DAG : MAIN;
    const r = spawnSync(process.execPath, ['--import', TSX, script, ...args], {
      cwd: this.dir,
      env: this.spawnEnv(opts.env ?? {}),
      encoding: 'utf8',
      timeout: 120_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /**
   * Starts `sluice ARGS` in the background. `prefix` runs it through a command that then runs node (e.g.
   * `ip netns exec NS`, which execs it in place: the child's pid is node's).
   */
  start(
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
  ): ChildProcess & { output: () => CliResult; done: Promise<number | null> } {
    const argv = [process.execPath, '--import', TSX, MAIN, ...args];
    const [cmd, ...rest] = [...(opts.prefix ?? []), ...argv];
    const child = spawn(cmd!, rest, {
      cwd: this.dir,
      env: this.spawnEnv(opts.env ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.on('close', (code, sig) => resolve(code ?? (sig ? -1 : null))));
    return Object.assign(child, { output: () => ({ code: child.exitCode, stdout, stderr }), done });
  }

  /** Waits until a file exists (a task's marker). */
  async waitForFile(rel: string, ms = 60_000): Promise<void> {
    const file = path.join(this.dir, rel);
    const until = Date.now() + ms;
    while (!fs.existsSync(file)) {
      if (Date.now() > until) throw new Error(`${file} did not appear`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
