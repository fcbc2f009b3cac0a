/**
 * Inline SVG charts for the HTML report: drawn here as text, with no library
 * and no script, so the page works offline, without JavaScript, and prints.
 * Each mark carries a `<title>` (the browser's tooltip). Every label is escaped.
 */
import type { CheckStatus } from '../state/index.js';
import { escapeHtml as x } from './escape.js';

export const STATUS_FILL: Record<CheckStatus | 'none', string> = {
  pass: '#2e7d32',
  warn: '#b26a00',
  fail: '#c62828',
  error: '#6a1b9a',
  none: '#9e9e9e',
};

const STATE_FILL: Record<string, string> = {
  success: '#2e7d32',
  failed: '#c62828',
  up_for_retry: '#b26a00',
  upstream_failed: '#ef6c00',
  running: '#00838f',
  skipped: '#ad1457',
};

export interface Point {
  /** x axis label (a logical date). */
  label: string;
  value: number;
  status?: CheckStatus;
  /** tooltip text */
  tip: string;
}

const fmt = (n: number) =>
  Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 3 });

/** A line chart of a series (oldest first), its points coloured by status; y from min to max (0-based for counts). */
export function lineChart(points: Point[], o: { title: string; width?: number; height?: number; zeroBased?: boolean }): string {
  const w = o.width ?? 560;
  const h = o.height ?? 160;
  const left = 64;
  const right = 12;
  const top = 12;
  const bottom = 28;
  const values = points.map((p) => p.value);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (o.zeroBased !== false && lo > 0) lo = 0;
  if (hi === lo) hi = lo + 1;
  const px = (i: number) =>
    left + (points.length === 1 ? (w - left - right) / 2 : (i * (w - left - right)) / (points.length - 1));
  const py = (v: number) => top + (h - top - bottom) * (1 - (v - lo) / (hi - lo));
  const r = (n: number) => Math.round(n * 10) / 10;
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${r(px(i))} ${r(py(p.value))}`).join('');
  const dots = points
    .map(
      (p, i) =>
        `<circle cx="${r(px(i))}" cy="${r(py(p.value))}" r="${points.length > 60 ? 2.5 : 3.5}" fill="${STATUS_FILL[p.status ?? 'none']}" class="pt ${p.status ?? ''}"><title>${x(p.tip)}</title></circle>`,
    )
    .join('');
  const first = points[0]!;
  const lastP = points[points.length - 1]!;
  return (
    `<svg class="chart" role="img" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg"><title>${x(o.title)}</title>` +
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${h - bottom}" class="axis"/><line x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" class="axis"/>` +
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end" class="tick">${x(fmt(hi))}</text>` +
    `<text x="${left - 6}" y="${h - bottom}" text-anchor="end" class="tick">${x(fmt(lo))}</text>` +
    `<text x="${left}" y="${h - 8}" class="tick">${x(first.label)}</text>` +
    (points.length > 1 ? `<text x="${w - right}" y="${h - 8}" text-anchor="end" class="tick">${x(lastP.label)}</text>` : '') +
    `<path d="${path}" class="line" fill="none"/>${dots}</svg>`
  );
}

/** One square per run, coloured by the check's status (checks whose observed value is not a number). */
export function statusStrip(points: { label: string; status: CheckStatus | 'none'; tip: string }[], title: string): string {
  const size = points.length > 60 ? 5 : 10;
  const gap = 2;
  const w = Math.max(points.length * (size + gap), size);
  return (
    `<svg class="chart strip" role="img" viewBox="0 0 ${w} ${size}" width="${w}" height="${size}" xmlns="http://www.w3.org/2000/svg"><title>${x(title)}</title>` +
    points
      .map(
        (p, i) =>
          `<rect x="${i * (size + gap)}" y="0" width="${size}" height="${size}" fill="${STATUS_FILL[p.status]}" class="pt ${p.status}"><title>${x(p.tip)}</title></rect>`,
      )
      .join('') +
    '</svg>'
  );
}

export interface Bar {
  lane: string;
  start: number;
  end: number;
  state: string;
  tip: string;
}

/** The task timeline: one lane per task, one bar per try, over the run's span. */
export function timeline(bars: Bar[], lanes: string[], o: { width?: number } = {}): string {
  const w = o.width ?? 900;
  const label = 180;
  const lane = 22;
  const h = lanes.length * lane + 24;
  const t0 = Math.min(...bars.map((b) => b.start));
  const t1 = Math.max(...bars.map((b) => b.end), t0 + 1);
  const px = (t: number) => label + ((t - t0) / (t1 - t0)) * (w - label - 10);
  const y = new Map(lanes.map((l, i) => [l, i * lane]));
  const secs = (t1 - t0) / 1000;
  return (
    `<svg class="chart timeline" role="img" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" xmlns="http://www.w3.org/2000/svg"><title>task timeline</title>` +
    lanes.map((l) => `<text x="${label - 8}" y="${y.get(l)! + 15}" text-anchor="end" class="lane">${x(l)}</text>`).join('') +
    bars
      .map((b) => {
        const x0 = px(b.start);
        const width = Math.max(px(b.end) - x0, 2);
        return `<rect x="${x0.toFixed(1)}" y="${y.get(b.lane)! + 4}" width="${width.toFixed(1)}" height="${lane - 8}" rx="2" fill="${STATE_FILL[b.state] ?? '#9e9e9e'}" class="bar ${x(b.state)}"><title>${x(b.tip)}</title></rect>`;
      })
      .join('') +
    `<text x="${label}" y="${h - 4}" class="tick">0s</text><text x="${w - 10}" y="${h - 4}" text-anchor="end" class="tick">${x(secs.toFixed(secs < 10 ? 2 : 0))}s</text>` +
    '</svg>'
  );
}
