/**
 * `--format text`: the report for a terminal. Colours only on a TTY and
 * never when NO_COLOR is set (https://no-color.org); the layout is the same
 * either way, so scripts and tests read the uncoloured text.
 */
import { colourState, humanMs, table } from '../format.js';
import type { CheckStatus } from '../../state/index.js';
import type { ReportCheck, RunReport } from './model.js';
import { showValue } from '../../render/escape.js';

/** Whether text output to `stream` should be coloured: a TTY, and NO_COLOR unset or empty. */
export function useColour(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR;
}

const STATUS_COLOUR: Record<CheckStatus, number> = { pass: 32, warn: 33, fail: 31, error: 35 };
const STATUS_WORD: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', error: 'ERROR' };
/** One character per run in a check's history line. */
const STATUS_MARK: Record<CheckStatus, string> = { pass: '✓', warn: 'W', fail: 'F', error: 'E' };

function paint(s: string, code: number, on: boolean): string {
  return on ? `\x1b[${code}m${s}\x1b[0m` : s;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'string') return v;
  const json = JSON.stringify(v);
  // Long lists (statements run, per-object details) are summarised; --format json has them whole.
  if (Array.isArray(v) && json.length > 60) return `[${v.length} items]`;
  return json;
}

const BARS = '▁▂▃▄▅▆▇█';

/** A row-count series as a one-line sparkline, scaled from its minimum to its maximum. */
function sparkline(values: number[]): string {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return values.map((v) => BARS[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))]).join('');
}

function checkStatus(c: ReportCheck, colour: boolean): string {
  return paint(STATUS_WORD[c.status], STATUS_COLOUR[c.status], colour);
}

export function renderText(r: RunReport, colour: boolean): string {
  let s = `report ${r.run_id} (${colourState(r.state, colour)}): data interval [${r.data_interval[0]}, ${r.data_interval[1]})\n`;
  s += '\ntasks\n';
  s += table(
    ['task', 'operator', 'state', 'try', 'duration', 'outputs'],
    r.tasks.map((t) => [
      t.task_id,
      t.operator,
      colourState(t.state, colour),
      t.try_number,
      humanMs(t.duration_ms),
      Object.entries(t.outputs)
        .map(([k, v]) => `${k}=${show(v)}`)
        .join(' ')
        .slice(0, 160),
    ]),
  );
  const rejected = r.tasks.flatMap((t) => t.rejections.map((x) => ({ task: t.task_id, ...x })));
  if (rejected.length) {
    s += `\nrejected lines (${rejected.length})\n`;
    s += table(
      ['task', 'table', 'object', 'line', 'column', 'reason'],
      rejected.slice(0, 100).map((x) => [x.task, x.table, x.object, x.line, x.column, x.reason.slice(0, 120)]),
    );
    if (rejected.length > 100) s += `… and ${rejected.length - 100} more (use --format json)\n`;
  }
  const checks = r.tasks.flatMap((t) => t.checks.map((c) => ({ task: t.task_id, ...c })));
  if (checks.length) {
    s += `\ndata quality checks (${checks.length}: ${r.checks_passed} passed, ${r.checks_failed} failed, ${r.checks_warned} warnings)\n`;
    s += table(
      ['check', 'severity', 'result', 'observed', 'expected', 'table'],
      checks.map((c) => [
        c.name,
        c.severity,
        checkStatus(c, colour),
        show(c.observed).slice(0, 60),
        show(c.expected).slice(0, 60),
        c.table,
      ]),
    );
    for (const c of checks.filter((x) => x.status !== 'pass' && (x.message || x.sample?.length))) {
      s += `\n${checkStatus(c, colour)} ${c.name}${c.message ? `: ${c.message}` : ''}\n`;
      if (c.sample?.length) {
        const cols = [...new Set(c.sample.flatMap((row) => Object.keys(row)))];
        s += table(
          cols,
          c.sample.map((row) => cols.map((k) => showValue(row[k], 40))),
        );
      }
    }
  }
  const h = r.history;
  if (h.runs.length > 1) {
    s += `\ntrend over the last ${h.runs.length} runs (${h.runs[0]!.logical_date} .. ${h.runs[h.runs.length - 1]!.logical_date})\n`;
    if (h.tables.length) {
      s += table(
        ['table', 'rows (oldest → newest)', 'min', 'max', 'latest'],
        h.tables.map((t) => {
          const v = t.points.map((p) => p.rows);
          return [t.table, sparkline(v), Math.min(...v), Math.max(...v), v[v.length - 1]];
        }),
      );
    }
    if (h.checks.length) {
      s += '\n';
      s += table(
        ['check', 'history (✓ pass, W warn, F fail, E error, · no result)'],
        h.checks.map((c) => {
          const at = new Map(c.points.map((p) => [p.run_id, p.status]));
          const marks = h.runs.map((run) => {
            const st = at.get(run.run_id);
            return st ? paint(STATUS_MARK[st], STATUS_COLOUR[st], colour) : '·';
          });
          return [c.check, marks.join('')];
        }),
      );
    }
  }
  return s;
}
