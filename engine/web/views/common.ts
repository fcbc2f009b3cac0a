/** What every page shares: the viewer, link encoding, the CSRF field, JSON blocks, the log-in hint. */
import { html, when, type Html } from '../html.js';
import { CSRF_FIELD } from '../security.js';

/** The viewer: whether it may act, and the CSRF value its forms carry. */
export interface Viewer {
  csrf: string | null;
}

export const enc = encodeURIComponent;
export const d = (s: string | null) => (s ? when(new Date(s)) : '');

export function csrfField(v: Viewer): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${v.csrf ?? ''}" />`;
}

export function json(v: unknown): Html {
  return html`<pre class="json">${JSON.stringify(v, null, 2)}</pre>`;
}

export function loginHint(path: string): Html {
  return html`<p class="muted">
    <a href="/login?next=${enc(path)}">Log in</a> with the webserver's token to trigger, clear or mark runs.
  </p>`;
}
