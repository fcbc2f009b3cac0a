/**
 * HTML building for the web UI: a tagged template that escapes every
 * interpolated value unless it is already HTML, the page layout, and the
 * colours of Airflow's task states. Everything shown comes from DAG files,
 * run confs, outputs and logs: none of it reaches a page unescaped.
 */
import { escapeHtml } from '../render/escape.js';

/** A piece of markup that is already safe (built by `html` or `raw`). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Markup taken as it is: only for text this module or a renderer built itself. */
export function raw(text: string): Html {
  return new Html(text);
}

function piece(v: unknown): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  return escapeHtml(v);
}

/** `html\`<p>${value}</p>\``: values escaped, Html pieces and arrays of them kept. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Airflow's state colours (its UI's defaults), so a glance reads the same as in Airflow. */
export const STATE_COLOURS: Record<string, string> = {
  success: '#008000',
  running: '#32cd32',
  failed: '#ff0000',
  upstream_failed: '#ffa500',
  up_for_retry: '#ffd700',
  skipped: '#ff69b4',
  queued: '#808080',
  scheduled: '#d2b48c',
  none: '#f0f0f0',
};

/** `st-success` etc.: the class of a state's colour (none for a task not started). */
export function stateClass(state: string | null | undefined): string {
  return `st-${state && state in STATE_COLOURS ? state : 'none'}`;
}

/** A state as a coloured badge. */
export function stateBadge(state: string | null | undefined): Html {
  return html`<span class="badge ${stateClass(state)}">${state ?? 'no status'}</span>`;
}

/** `2018-11-21 00:00:00Z`. */
export function when(d: Date | null | undefined): string {
  return d ? d.toISOString().replace('T', ' ').replace('.000Z', 'Z') : '';
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export interface Page {
  title: string;
  body: Html;
  /** Seconds after which a browser without script reloads the page (a run still going). */
  refresh?: number;
  /** The event stream a browser with script listens to instead, to update the page in place (live.ts). */
  live?: string;
  /** Whether the browser holds a session that may act (shows the log-in link otherwise). */
  loggedIn: boolean;
  /** The current path, for the log-in link to come back to. */
  path: string;
}

/** The whole document around a page's body. */
export function layout(p: Page): string {
  const account = p.loggedIn
    ? html`<form method="post" action="/logout" class="inline"><button type="submit" class="link">log out</button></form>`
    : html`<a href="/login?next=${encodeURIComponent(p.path)}">log in to act</a>`;
  return (
    '<!doctype html>\n' +
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${p.refresh ? raw(`<noscript><meta http-equiv="refresh" content="${p.refresh}"></noscript>`) : ''}
        <title>${p.title} · Sluice</title>
        <link rel="stylesheet" href="/assets/app.css" />
        <script src="/assets/app.js" defer></script>
      </head>
      <body>
        <header>
          <a class="brand" href="/">Sluice</a>
          <nav><a href="/">DAGs</a><a href="/runs">Runs</a></nav>
          <span class="account">${account}</span>
        </header>
        <main ${p.live ? html`data-live="${p.live}"` : ''}>${p.body}</main>
      </body>
    </html>`.text
  );
}
