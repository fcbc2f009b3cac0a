/**
 * `sluice connections list|get|set|delete`: shows the connections in force
 * (config file < state DB store < SLUICE_CONN_*) and edits the store in the
 * state DB (where CreateCluster records the cluster). Secrets are masked;
 * the store refuses URLs that hold one (use a reference: ?password_env=VAR).
 */
import type { Command } from 'commander';
import { ConnectionError, UsageError } from '../../errors.js';
import { parseConnectionUrl, redactUrl } from '../../connections/url.js';
import { parseRedshiftUrl } from '../../connections/warehouse/redshift/redshift-url.js';
import { didYouMean } from '../../dag/suggest.js';
import { redactValue } from '../../redact.js';
import type { App } from '../app.js';
import { isoSeconds, printJson, table } from '../format.js';
import { action, type CliContext, examples, readingAction } from './kit.js';

export type { CliContext, WithApp } from './kit.js';

export type ConnectionSource = 'config' | 'store' | 'env';

export interface ConnectionView {
  name: string;
  /** Where the URL in force comes from. */
  source: ConnectionSource;
  /** The URL in force, secrets masked. */
  url: string;
  /** Lower layers this one hides, each masked. */
  shadows: { source: ConnectionSource; url: string }[];
  /** The store's details (role ARN, cluster, ...), when it has the connection. */
  extra: Record<string, unknown> | null;
  updated_at: string | null;
  updated_by: string | null;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/** Every connection in force, with its layers. */
export async function connectionViews(app: App): Promise<ConnectionView[]> {
  const stored = new Map((await app.store.connections.list()).map((c) => [c.name, c]));
  const layers: [ConnectionSource, Record<string, string>][] = [
    ['config', app.config.connections],
    ['store', Object.fromEntries([...stored.values()].map((c) => [c.name, c.url]))],
    ['env', app.config.envConnections],
  ];
  const names = new Set(layers.flatMap(([, m]) => Object.keys(m)));
  return [...names].sort().map((name) => {
    const present = layers.filter(([, m]) => Object.prototype.hasOwnProperty.call(m, name));
    const [source, urls] = present[present.length - 1]!;
    const row = stored.get(name);
    return {
      name,
      source,
      url: redactUrl(urls[name]!),
      shadows: present
        .slice(0, -1)
        .reverse()
        .map(([s, m]) => ({ source: s, url: redactUrl(m[name]!) })),
      extra: row ? (redactValue(row.extra) as Record<string, unknown>) : null,
      updated_at: row ? row.updatedAt.toISOString() : null,
      updated_by: row?.updatedBy ?? null,
    };
  });
}

/** Refuses a URL that holds a literal secret or does not parse; checks redshift URLs' parameters. */
export function checkStorableUrl(name: string, url: string, home: string): void {
  if (!NAME.test(name)) throw new UsageError(`connection names are lowercase letters, digits and _ (got '${name}')`);
  if (redactUrl(url) !== url) {
    throw new UsageError(
      `the URL for '${name}' holds a secret (${redactUrl(url)}); the state DB stores no secrets: ` +
        `use a reference such as ?password_env=VAR (redshift) or put the URL in SLUICE_CONN_${name.toUpperCase()}`,
    );
  }
  try {
    const c = parseConnectionUrl(url, { home });
    if (c.kind === 'redshift') {
      // syntax and parameters only: any password_env counts as set here
      parseRedshiftUrl(url, new Proxy({}, { get: () => 'placeholder' }) as NodeJS.ProcessEnv);
    }
  } catch (err) {
    if (err instanceof ConnectionError) throw new UsageError(err.message);
    throw err;
  }
}

function parseExtra(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new UsageError(`--extra must be a JSON object, e.g. '{"role_arn": "arn:aws:iam::123456789012:role/r"}'`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new UsageError('--extra must be a JSON object');
  if (JSON.stringify(redactValue(v)) !== JSON.stringify(v)) {
    throw new UsageError('--extra holds a secret-looking value; the state DB stores no secrets');
  }
  return v as Record<string, unknown>;
}

async function unknownName(app: App, name: string): Promise<UsageError> {
  const known = (await connectionViews(app)).map((c) => c.name);
  return new UsageError(
    `no connection '${name}'${didYouMean(name, known)} (known: ${known.join(', ') || 'none'}; see: sluice connections list)`,
  );
}

export function register(program: Command, ctx: CliContext): Command {
  const connections = program
    .command('connections')
    .description('show the connections in force (config < state DB < SLUICE_CONN_*) and edit the ones stored in the state DB');

  const list = connections
    .command('list')
    .description('list connections: name, where the URL comes from, the URL (secrets masked)')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice connections list', 'sluice connections list --json']));
  readingAction(ctx, list, async (app, o: { json?: boolean }) => {
    const views = await connectionViews(app);
    if (o.json) return void printJson({ connections: views });
    process.stdout.write(
      table(
        ['name', 'source', 'url', 'updated'],
        views.map((v) => [
          v.name,
          v.shadows.length ? `${v.source} (over ${v.shadows.map((s) => s.source).join(', ')})` : v.source,
          v.url,
          v.updated_at ? `${isoSeconds(v.updated_at)}${v.updated_by ? ` by ${v.updated_by}` : ''}` : '',
        ]),
      ),
    );
  });

  const get = connections
    .command('get')
    .description('show one connection: the URL in force, the layers it hides, and stored details')
    .argument('<name>')
    .option('--json', 'JSON output')
    .addHelpText('after', examples(['sluice connections get warehouse', 'sluice connections get warehouse --json']));
  readingAction(ctx, get, async (app, name: string, o: { json?: boolean }) => {
    const v = (await connectionViews(app)).find((c) => c.name === name);
    if (!v) throw await unknownName(app, name);
    if (o.json) return void printJson(v);
    const lines = [`name:    ${v.name}`, `source:  ${v.source}`, `url:     ${v.url}`];
    for (const s of v.shadows) lines.push(`hides:   ${s.source}: ${s.url}`);
    if (v.extra && Object.keys(v.extra).length) {
      for (const [k, val] of Object.entries(v.extra))
        lines.push(`  ${k}: ${typeof val === 'string' ? val : JSON.stringify(val)}`);
    }
    if (v.updated_at) lines.push(`updated: ${isoSeconds(v.updated_at)}${v.updated_by ? ` by ${v.updated_by}` : ''}`);
    process.stdout.write(lines.join('\n') + '\n');
  });

  const set = connections
    .command('set')
    .description(
      'store a connection in the state DB (it overrides the config file; SLUICE_CONN_* overrides it). No literal secrets.',
    )
    .argument('<name>')
    .argument('<url>')
    .option('--extra <json>', 'non-secret details as a JSON object, e.g. {"role_arn": "..."}')
    .addHelpText(
      'after',
      examples([
        "sluice connections set warehouse 'redshift://dwhuser@my-cluster.abc123.us-west-2.redshift.amazonaws.com:5439/dwh?password_env=REDSHIFT_PASSWORD&iam_role=arn:aws:iam::123456789012:role/sluiceRedshiftS3Read'",
        "sluice connections set lake 's3://my-bucket/sparkify?region=us-west-2'",
      ]),
    );
  action(ctx, set, async (app, name: string, url: string, o: { extra?: string }) => {
    checkStorableUrl(name, url, app.config.home);
    const extra = parseExtra(o.extra);
    await app.store.connections.set(name, url, { extra, by: 'sluice connections set', now: app.runs.clock.now() });
    process.stdout.write(`stored connection '${name}': ${redactUrl(url)}\n`);
    if (app.config.envConnections[name] !== undefined) {
      process.stderr.write(`note: SLUICE_CONN_${name.toUpperCase()} is set and overrides the stored URL\n`);
    }
  });

  const del = connections
    .command('delete')
    .description('remove a connection from the state DB store (the config file value, if any, applies again)')
    .argument('<name>')
    .addHelpText('after', examples(['sluice connections delete warehouse']));
  action(ctx, del, async (app, name: string) => {
    if (!(await app.store.connections.delete(name))) {
      const stored = (await app.store.connections.list()).map((c) => c.name);
      throw new UsageError(`the state DB stores no connection '${name}' (stored: ${stored.join(', ') || 'none'})`);
    }
    const now = (await connectionViews(app)).find((c) => c.name === name);
    process.stdout.write(`deleted stored connection '${name}'${now ? `; now ${now.source}: ${now.url}` : ''}\n`);
  });

  return connections;
}
