/**
 * `sluice report <dag>`: what a run did, from the state DB alone: the task
 * timeline, rejected load lines with their object and line, every data
 * quality check with observed vs expected and sample rows, and the trend of
 * each table's row count and each check over the last N runs. The model is
 * built once (report/model.ts) and rendered as text, json, junit or html
 * (report/*.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { SluiceError, UsageError } from '../errors.js';
import type { DagRun } from '../state/index.js';
import type { App } from './app.js';
import { buildReport as buildModel, DEFAULT_LAST, exitStatus, pickRun, type RunReport } from './report/model.js';
import { renderText, useColour } from './report/text.js';

export type { CheckResult } from './findings.js';
export type { RunReport, TaskReport } from './report/model.js';

export const FORMATS = ['text', 'json', 'junit', 'html'] as const;
export type ReportFormat = (typeof FORMATS)[number];

export interface ReportOptions {
  run?: string;
  date?: string;
  /** Same as format json (kept from before --format). */
  json?: boolean;
  format?: string;
  out?: string;
  last?: string | number;
}

export async function buildReport(app: App, run: DagRun, o: { last?: number } = {}): Promise<RunReport> {
  return buildModel(app.store, run, o);
}

/** The text report (kept for callers of the former API). */
export function formatReport(r: RunReport, colour: boolean): string {
  return renderText(r, colour);
}

function parseFormat(o: ReportOptions): ReportFormat {
  if (o.json && o.format && o.format !== 'json')
    throw new UsageError(`--json and --format ${o.format} disagree: use one of them`);
  const f = o.format ?? (o.json ? 'json' : 'text');
  if (!(FORMATS as readonly string[]).includes(f)) throw new UsageError(`--format '${f}' is unknown: use ${FORMATS.join(', ')}`);
  return f as ReportFormat;
}

function parseLast(v: string | number | undefined): number {
  if (v === undefined) return DEFAULT_LAST;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new UsageError(`--last '${v}' must be a whole number of runs from 1 to 10000, e.g. --last 30`);
  return n;
}

/** Renders the report in a format (text uncoloured unless asked). */
export async function renderReport(r: RunReport, format: ReportFormat, colour = false): Promise<string> {
  switch (format) {
    case 'text':
      return renderText(r, colour);
    case 'json':
      return JSON.stringify(r, null, 2) + '\n';
    case 'junit':
      return (await import('./report/junit.js')).renderJunit(r);
    case 'html':
      return (await import('./report/html.js')).renderHtml(r);
  }
}

/**
 * Writes a report file whole or not at all: into a temporary file beside it,
 * then renamed over it, so a reader (a CI step, a browser) never sees half a report.
 */
function writeAtomically(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!fs.existsSync(dir)) throw new UsageError(`--out ${file}: the folder ${dir} does not exist (create it first)`);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new SluiceError(`cannot write the report to ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Prints (or writes with --out) the report. Exit status 1 when the run failed
 * or an error-severity check failed (a script gating on `sluice report` must
 * not pass a failed run whose checks never ran); 0 otherwise, a run still
 * running included. The status is the same whatever the format.
 */
export async function reportCommand(app: App, dagId: string, o: ReportOptions): Promise<number> {
  const format = parseFormat(o);
  const last = parseLast(o.last);
  const report = await buildModel(app.store, await pickRun(app.store, dagId, o), { last });
  if (o.out) {
    const text = await renderReport(report, format, false);
    writeAtomically(o.out, text);
    process.stderr.write(
      `report of ${report.run_id} (${report.state}) written to ${o.out} (${format}, ${text.length.toLocaleString('en-US')} bytes)\n`,
    );
  } else {
    process.stdout.write(await renderReport(report, format, format === 'text' && useColour(process.stdout)));
  }
  return exitStatus(report);
}
