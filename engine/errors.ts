/**
 * Errors a user can cause. Each says where and what to do; the CLI prints
 * them without a stack trace unless --verbose.
 */
import type { SourcePos } from './interfaces.js';

export class SluiceError extends Error {
  /** Process exit code the CLI uses for this error. */
  exitCode = 1;
  override name = 'SluiceError';
}

export interface DagProblem {
  pos: SourcePos;
  /** Field path inside the file, e.g. tasks.stage_events.retries */
  path: string;
  message: string;
}

export function formatProblem(p: DagProblem): string {
  const where = `${p.pos.file}:${p.pos.line}:${p.pos.col}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}

/** One or more problems in one DAG file. */
export class DagFileError extends SluiceError {
  override name = 'DagFileError';
  override exitCode = 2;
  constructor(
    readonly file: string,
    readonly problems: DagProblem[],
  ) {
    super(problems.map(formatProblem).join('\n'));
  }
}

export class ConfigError extends SluiceError {
  override name = 'ConfigError';
  override exitCode = 2;
}

export class UsageError extends SluiceError {
  override name = 'UsageError';
  override exitCode = 2;
}

export class ConnectionError extends SluiceError {
  override name = 'ConnectionError';
}

export class TemplateError extends SluiceError {
  override name = 'TemplateError';
}

/** A task's work failed in a way the user should read (a failing check, a rejected load). */
export class TaskFailure extends SluiceError {
  override name = 'TaskFailure';
}

/** Bad input data met while loading: names the object and line. */
export class LoadError extends SluiceError {
  override name = 'LoadError';
  constructor(
    message: string,
    readonly object?: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
