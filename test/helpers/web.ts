/** Starts `sluice webserver --port 0` in a scratch project and reads its address and token from what it prints. */
import type { Project } from './cli.js';

export interface RunningWeb {
  url: string;
  /** The token it printed (null when SLUICE_WEB_TOKEN chose it). */
  token: string | null;
  output: () => { stdout: string; stderr: string };
  stop(): Promise<number | null>;
}

export async function startWeb(
  p: Project,
  env: NodeJS.ProcessEnv = {},
  args: string[] = ['webserver', '--port', '0'],
): Promise<RunningWeb> {
  const child = p.start(args, { env });
  const until = Date.now() + 60_000;
  for (;;) {
    const { stdout, stderr } = child.output();
    const url = /serving (http:\/\/127\.0\.0\.\d+:\d+)\//.exec(stdout)?.[1];
    if (url && /log in at/.test(stdout)) {
      return {
        url,
        token: /token for actions[^:]*: (\S+)/.exec(stdout)?.[1] ?? null,
        output: () => child.output(),
        async stop() {
          child.kill('SIGTERM');
          return child.done;
        },
      };
    }
    if (child.exitCode !== null || Date.now() > until) throw new Error(`webserver did not start:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until `check` holds (polling), for a run started in the server to end. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
