/**
 * `--format html`: one self-contained page (inline CSS and SVG, no script, no
 * font, no image, nothing fetched: its Content-Security-Policy forbids any
 * request), readable offline and without JavaScript. Sections: the run
 * header, the task timeline, the checks table (failing checks highlighted,
 * sample rows folded in `<details>`), the rejected input lines, a row-count
 * chart per table and a history chart per check over the last N runs.
 * Everything that comes from data or DAG files is escaped.
 */
import { humanMs } from '../format.js';
import { isFailure, isWarning, type ReportCheck, type RunReport } from './model.js';
import { escapeHtml as h, showValue } from '../../render/escape.js';
import { type Bar, lineChart, statusStrip, STATUS_FILL, timeline } from '../../render/svg.js';

const CSS = `
:root{--fail:${STATUS_FILL.fail};--warn:${STATUS_FILL.warn};--pass:${STATUS_FILL.pass};--error:${STATUS_FILL.error}}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header,main{max-width:1180px;margin:0 auto;padding:16px 24px}
header{background:#fff;border-bottom:1px solid #dde1e6;max-width:none}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:28px 0 10px}
.meta{color:#55606d}.meta span{margin-right:18px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-weight:600;font-size:12px;vertical-align:middle}
.badge.success,.badge.pass{background:var(--pass)}.badge.failed,.badge.fail{background:var(--fail)}
.badge.warn,.badge.up_for_retry{background:var(--warn)}.badge.error{background:var(--error)}.badge.running,.badge.queued,.badge.other{background:#607d8b}
.cards{display:flex;gap:12px;margin-top:12px;flex-wrap:wrap}.card{background:#f0f2f5;border-radius:6px;padding:6px 12px}
.card b{font-size:18px;display:block}.card.bad b{color:var(--fail)}.card.warned b{color:var(--warn)}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dde1e6}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff2;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.val{max-width:360px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-word}
tr.check.bad{background:#fdecea;box-shadow:inset 4px 0 var(--fail)}tr.check.warned{background:#fff6e0;box-shadow:inset 4px 0 var(--warn)}
details summary{cursor:pointer;color:#0b57d0}details table{margin-top:6px;font-size:12.5px}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:14px}
figure{margin:0;background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:10px}
figure.failing{border-color:var(--fail);box-shadow:inset 4px 0 var(--fail)}
figcaption{font-weight:600;margin-bottom:6px}figcaption small{font-weight:400;color:#55606d;margin-left:6px}
svg.chart{max-width:100%;height:auto;display:block}svg .axis{stroke:#9aa5b1}svg .line{stroke:#0b57d0;stroke-width:1.5}
svg .tick,svg .lane{font-size:11px;fill:#55606d}
.history{display:grid;grid-template-columns:repeat(auto-fill,minmax(370px,1fr));gap:8px}.history figure{padding:8px 10px}
.empty{color:#55606d;font-style:italic}
footer{max-width:1180px;margin:24px auto;padding:0 24px;color:#77818c;font-size:12px}
`;

const num = (v: unknown): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : null;

function badge(word: string | null): string {
  const w = word ?? 'none';
  const cls = ['success', 'failed', 'pass', 'fail', 'warn', 'error', 'up_for_retry', 'running', 'queued'].includes(w)
    ? w
    : 'other';
  return `<span class="badge ${cls}">${h(w)}</span>`;
}

function sampleTable(rows: Record<string, unknown>[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return (
    `<details><summary>${rows.length} sample row${rows.length === 1 ? '' : 's'}</summary><table class="sample"><thead><tr>` +
    cols.map((c) => `<th>${h(c)}</th>`).join('') +
    '</tr></thead><tbody>' +
    rows.map((r) => '<tr>' + cols.map((c) => `<td class="val">${h(showValue(r[c], 300))}</td>`).join('') + '</tr>').join('') +
    '</tbody></table></details>'
  );
}

function checkRow(task: string, c: ReportCheck): string {
  return (
    `<tr class="check ${c.status}${isFailure(c) ? ' bad' : isWarning(c) ? ' warned' : ''}" data-status="${c.status}" data-severity="${c.severity}" data-check="${h(c.name)}">` +
    `<td>${h(task)}</td><td><b>${h(c.name)}</b></td><td>${h(c.type ?? '')}</td><td>${h(c.table ?? '')}</td><td>${h(c.severity)}</td>` +
    `<td>${badge(c.status)}</td><td class="val">${h(showValue(c.observed))}</td><td class="val">${h(showValue(c.expected))}</td>` +
    `<td>${c.message ? h(c.message) : ''}${c.sample?.length ? sampleTable(c.sample) : ''}</td></tr>`
  );
}

function header(r: RunReport): string {
  const card = (label: string, n: number, cls = '') => `<div class="card ${cls}"><b>${n}</b>${h(label)}</div>`;
  return (
    `<header><h1>${h(r.dag_id)} ${badge(r.state)}</h1>` +
    `<div class="meta"><span>run <code>${h(r.run_id)}</code></span><span>data interval [${h(r.data_interval[0])}, ${h(r.data_interval[1])})</span>` +
    `<span>${h(r.run_type)}</span>` +
    (r.started_at ? `<span>started ${h(r.started_at)}</span>` : '') +
    (r.duration_ms !== null ? `<span>took ${h(humanMs(r.duration_ms))}</span>` : '') +
    '</div><div class="cards">' +
    card('checks', r.checks_total) +
    card('passed', r.checks_passed) +
    card('failed', r.checks_failed, r.checks_failed ? 'bad' : '') +
    card('warnings', r.checks_warned, r.checks_warned ? 'warned' : '') +
    card('rejected lines', r.rejected_lines, r.rejected_lines ? 'warned' : '') +
    card('runs in trend', r.history.runs.length) +
    '</div></header>'
  );
}

function timelineSection(r: RunReport): string {
  const bars: Bar[] = [];
  for (const t of r.tasks)
    for (const tr of t.tries) {
      if (!tr.started_at) continue;
      const start = Date.parse(tr.started_at);
      const end = tr.ended_at ? Date.parse(tr.ended_at) : start;
      bars.push({
        lane: t.task_id,
        start,
        end: Math.max(end, start + (tr.duration_ms ?? 0)),
        state: tr.state,
        tip: `${t.task_id} try ${tr.try_number}: ${tr.state}, ${humanMs(tr.duration_ms) ?? 'running'}${tr.error ? ` — ${tr.error}` : ''}`,
      });
    }
  const body = bars.length
    ? timeline(
        bars,
        r.tasks.filter((t) => t.tries.length).map((t) => t.task_id),
      )
    : '<p class="empty">no task has run yet</p>';
  const rows = r.tasks
    .map(
      (t) =>
        `<tr><td>${h(t.task_id)}</td><td>${h(t.operator)}</td><td>${badge(t.state)}</td><td class="num">${t.try_number ?? '-'}</td>` +
        `<td class="num">${h(humanMs(t.duration_ms) ?? '-')}</td><td class="val">${h(
          Object.entries(t.outputs)
            .map(([k, v]) => `${k}=${showValue(v, 80)}`)
            .join(' ')
            .slice(0, 160),
        )}</td></tr>`,
    )
    .join('');
  return (
    `<section id="timeline"><h2>Task timeline</h2>${body}` +
    `<table class="tasks"><thead><tr><th>task</th><th>operator</th><th>state</th><th>try</th><th>duration</th><th>outputs</th></tr></thead><tbody>${rows}</tbody></table></section>`
  );
}

function checksSection(r: RunReport): string {
  const rows = r.tasks.flatMap((t) => t.checks.map((c) => ({ task: t.task_id, c })));
  if (!rows.length)
    return '<section id="checks"><h2>Data quality checks</h2><p class="empty">this run recorded no check</p></section>';
  // Failing checks first, then warnings, then passes: what needs a look is at the top.
  const rank = { fail: 0, error: 1, warn: 2, pass: 3 } as const;
  rows.sort((a, b) => rank[a.c.status] - rank[b.c.status]);
  return (
    `<section id="checks"><h2>Data quality checks</h2><table class="checks"><thead><tr><th>task</th><th>check</th><th>type</th><th>table</th>` +
    `<th>severity</th><th>status</th><th>observed</th><th>expected</th><th>details</th></tr></thead><tbody>` +
    rows.map(({ task, c }) => checkRow(task, c)).join('') +
    '</tbody></table></section>'
  );
}

function rejectionsSection(r: RunReport): string {
  const all = r.tasks.flatMap((t) => t.rejections.map((x) => ({ task: t.task_id, ...x })));
  if (!all.length) return '';
  const shown = all.slice(0, 500);
  return (
    `<section id="rejections"><h2>Rejected input lines (${all.length})</h2><table class="rejections"><thead><tr><th>task</th><th>table</th><th>object</th>` +
    '<th>line</th><th>column</th><th>value</th><th>reason</th></tr></thead><tbody>' +
    shown
      .map(
        (x) =>
          `<tr><td>${h(x.task)}</td><td>${h(x.table)}</td><td class="val">${h(x.object)}</td><td class="num">${x.line}</td>` +
          `<td>${h(x.column ?? '')}</td><td class="val">${h(showValue(x.value, 120))}</td><td>${h(x.reason)}</td></tr>`,
      )
      .join('') +
    '</tbody></table>' +
    (all.length > shown.length ? `<p class="empty">… and ${all.length - shown.length} more (see --format json)</p>` : '') +
    '</section>'
  );
}

const day = (iso: string) => iso.replace(/T00:00:00Z$/, '');

function trendsSection(r: RunReport): string {
  const hist = r.history;
  const tables = hist.tables.length
    ? '<div class="charts">' +
      hist.tables
        .map((t) => {
          const latest = t.points[t.points.length - 1]!;
          const chart = lineChart(
            t.points.map((p) => ({
              label: day(p.logical_date),
              value: p.rows,
              tip: `${day(p.logical_date)}: ${p.rows} rows (${p.task_id}, ${p.run_id})`,
            })),
            { title: `row count of ${t.table}` },
          );
          return `<figure class="table-chart" data-table="${h(t.table)}"><figcaption>${h(t.table)}<small>${h(latest.rows.toLocaleString('en-US'))} rows in the latest run, ${t.points.length} run${t.points.length === 1 ? '' : 's'}</small></figcaption>${chart}</figure>`;
        })
        .join('') +
      '</div>'
    : '<p class="empty">no row counts recorded</p>';
  const current = new Map(r.tasks.flatMap((t) => t.checks.map((c) => [`${t.task_id}\u0000${c.name}`, c] as const)));
  const checks = hist.checks.length
    ? '<div class="history">' +
      hist.checks
        .map((c) => {
          const now = current.get(`${c.task_id}\u0000${c.check}`);
          const numeric = c.points.map((p) => num(p.observed));
          const tip = (p: (typeof c.points)[number]) =>
            `${day(p.logical_date)}: ${p.status}, observed ${showValue(p.observed, 80)}`;
          const chart =
            numeric.filter((v) => v !== null).length >= Math.max(1, c.points.length / 2)
              ? lineChart(
                  c.points.flatMap((p, i) =>
                    numeric[i] === null
                      ? []
                      : [{ label: day(p.logical_date), value: numeric[i]!, status: p.status, tip: tip(p) }],
                  ),
                  { title: `history of ${c.check}`, width: 360, height: 90 },
                )
              : statusStrip(
                  c.points.map((p) => ({ label: day(p.logical_date), status: p.status, tip: tip(p) })),
                  `history of ${c.check}`,
                );
          // Highlighted like the checks table: what fails the run in red.
          const failing = now !== undefined && isFailure(now);
          return `<figure class="check-chart${failing ? ' failing' : ''}" data-check="${h(c.check)}" data-status="${h(now?.status ?? '')}"><figcaption>${h(c.check)}<small>${h([c.type, c.table, c.task_id].filter(Boolean).join(' · '))}</small></figcaption>${chart}</figure>`;
        })
        .join('') +
      '</div>'
    : '<p class="empty">no check history recorded</p>';
  return (
    `<section id="trends"><h2>Row counts per table (last ${hist.runs.length} of ${hist.last} runs asked)</h2>${tables}</section>` +
    `<section id="history"><h2>Check history</h2>${checks}</section>`
  );
}

export function renderHtml(r: RunReport): string {
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">` +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<title>${h(`${r.dag_id} ${r.run_id}: ${r.state}${r.checks_failed ? `, ${r.checks_failed} failed` : ''}`)}</title><style>${CSS}</style></head><body>` +
    header(r) +
    '<main>' +
    timelineSection(r) +
    checksSection(r) +
    rejectionsSection(r) +
    trendsSection(r) +
    `</main><footer>sluice report, format version ${r.report_version}. This page is self-contained: it loads nothing.</footer></body></html>\n`
  );
}
