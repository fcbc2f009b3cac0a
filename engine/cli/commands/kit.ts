/**
 * What every verb module under commands/ shares. A verb module declares its
 * commands, options and help with commander alone (cheap) and loads what its
 * action needs with `await import(...)` when the action runs, so that
 * `sluice --version` or `sluice dags list` do not pay for the AWS SDK, PGlite,
 * the runner or the scheduler.
 */
import type { Command } from 'commander';
import type { App } from '../app.js';

/**
 * A verb's body. It gets the opened app, then commander's parsed arguments:
 * the positional arguments in order, then the options object. Each verb
 * states their types where it declares them.
 */
export type Handler<A extends unknown[]> = (app: App, ...args: A) => Promise<number | void> | number | void;

export interface VerbMode {
  /** The verb only reads the state DB: it is opened read-only (works on a read-only home) and never migrated. */
  readonly?: boolean;
}

/**
 * Turns a verb's body into commander's action: opens the app, runs the body,
 * closes, sets the exit code (main.ts's withApp; tests pass one that hands
 * over a prepared app).
 */
export type WithApp = <A extends unknown[]>(
  cmd: Command,
  handler: Handler<A>,
  mode?: VerbMode,
) => (...args: unknown[]) => Promise<void>;

/** What main.ts hands each verb module's register(). */
export interface CliContext {
  withApp: WithApp;
}

/** Declares cmd's action: the handler runs with the opened app and commander's parsed arguments. */
export function action<A extends unknown[]>(ctx: CliContext, cmd: Command, handler: Handler<A>, mode?: VerbMode): void {
  cmd.action(ctx.withApp(cmd, handler, mode));
}

/** The same, for a verb that only reads the state DB. */
export function readingAction<A extends unknown[]>(ctx: CliContext, cmd: Command, handler: Handler<A>): void {
  action(ctx, cmd, handler, { readonly: true });
}

/** The "Examples:" block of a verb's --help. */
export function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** --verbose, given before or after the verb. */
export function verbose(cmd: Command): boolean {
  return Boolean(cmd.optsWithGlobals().verbose);
}
