/** `sluice webserver`: the web UI and its JSON API (engine/web/), loaded only when this verb runs. */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { App } from '../app.js';
import { action, type CliContext, examples } from './kit.js';

interface WebserverOptions {
  host: string;
  port: string;
  publicRead?: boolean;
}

export function register(program: Command, ctx: CliContext): void {
  const web = program
    .command('webserver')
    .description('serve the web UI: DAGs, grid, runs, task logs, quality checks; trigger, clear, mark, pause')
    .option('--host <host>', 'address to listen on (anything but loopback exposes the pages to the network)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0: any free port)', '8080')
    .option(
      '--public-read',
      'let anyone who can reach the server read the pages without logging in (actions still need the token)',
    )
    .addHelpText(
      'after',
      examples(['sluice webserver', 'sluice webserver --port 9090', 'SLUICE_WEB_TOKEN=$(cat ~/.sluice-token) sluice webserver']) +
        '\nActions (trigger, clear, mark, pause) need the token: SLUICE_WEB_TOKEN, or one generated at start and printed once.\n' +
        'Log in at /login with it; scripts send it as "Authorization: Bearer <token>" (see docs/web.md).\n',
    );
  action(ctx, web, async (app, o: WebserverOptions) => {
    const served = await serveWeb(app, { ...o, executes: true });
    const { abortOnSignals } = await import('../run-command.js');
    const signals = abortOnSignals('stopping the webserver; runs it executes are put back in the queue');
    await new Promise<void>((resolve) => signals.signal.addEventListener('abort', () => resolve(), { once: true }));
    signals.dispose();
    await served.close();
    return 0;
  });
}

/** Parses --port: a port number, 0 for any free one. */
export function parsePort(v: string): number {
  const port = Number(v);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be a port number (0-65535), not '${v}'`);
  return port;
}

/**
 * Starts the web UI on the app and prints where, and the token when it
 * chose one. With `executes`, runs triggered, rerun or cleared from the UI
 * run in this process, as run-dag would run them; without (the scheduler's
 * --web), they are only queued and the scheduler runs them.
 */
export async function serveWeb(
  app: App,
  o: { host: string; port: string; publicRead?: boolean; executes: boolean; name?: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const port = parsePort(o.port);
  const [
    { startWebServer },
    { newToken, MIN_TOKEN },
    { executeRun },
    { runnerDeps },
    { loadDagsDir },
    { registerSecret },
    { cachedDagLoader },
  ] = await Promise.all([
    import('../../web/server.js'),
    import('../../web/security.js'),
    import('../../run/runner.js'),
    import('../app.js'),
    import('../../dag/load.js'),
    import('../../redact.js'),
    import('../../web/context.js'),
  ]);
  const name = o.name ?? 'sluice webserver';
  const given = process.env.SLUICE_WEB_TOKEN;
  if (given !== undefined && given.length < MIN_TOKEN) {
    throw new UsageError(`SLUICE_WEB_TOKEN must be at least ${MIN_TOKEN} characters (e.g. openssl rand -base64 24)`);
  }
  const token = given ?? newToken();
  registerSecret(token); // never in a log line or a message

  const stop = new AbortController();
  const running = new Set<Promise<unknown>>();
  const deps = o.executes ? runnerDeps(app, false) : null;
  const server = await startWebServer(
    {
      store: app.store,
      runs: app.runs,
      dagsDir: app.config.dagsDir,
      loadDags: cachedDagLoader(app.config.dagsDir, () => loadDagsDir(app.config.dagsDir, app.registry)),
      execute: deps
        ? (dag, runId) => {
            const p = executeRun(dag, runId, deps, { signal: stop.signal, requeue: true }).catch((err: unknown) => {
              process.stderr.write(`${name}: run ${runId}: ${err instanceof Error ? err.message : String(err)}\n`);
            });
            running.add(p);
            void p.finally(() => running.delete(p));
            return p;
          }
        : undefined,
    },
    { host: o.host, port, token, publicRead: Boolean(o.publicRead) },
  );
  const out = process.stdout;
  out.write(`${name}: serving ${server.url}/ (DAG folder ${app.config.dagsDir}, state ${app.store.location})\n`);
  if (given === undefined) {
    out.write(`token for actions (shown once; set SLUICE_WEB_TOKEN to choose your own): ${token}\n`);
  }
  out.write(`log in at ${server.url}/login to trigger, clear and mark runs; Ctrl-C stops the server\n`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(o.host)) {
    process.stderr.write(
      o.publicRead
        ? `${name}: listening on ${o.host} with --public-read: anyone who can reach it can read the pages\n`
        : `${name}: listening on ${o.host}: pages need a log-in (the token); --public-read opens them to anyone who can reach it\n`,
    );
  }
  return {
    url: server.url,
    async close() {
      await server.close();
      stop.abort(new Error('the webserver stopped'));
      await Promise.all([...running]);
    },
  };
}
