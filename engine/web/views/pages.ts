/** The log-in and error pages. */
import { html, type Html } from '../html.js';

export function loginPage(next: string, error?: string): Html {
  return html`<h1>Log in</h1>
    ${error ? html`<p class="error">${error}</p>` : ''}
    <p>Paste the token the webserver printed when it started (or the value of SLUICE_WEB_TOKEN).</p>
    <form method="post" action="/login" class="actions">
      <input type="hidden" name="next" value="${next}" />
      <label>token <input type="password" name="token" autocomplete="current-password" size="40" /></label>
      <button type="submit">Log in</button>
    </form>`;
}

export function errorPage(status: number, message: string): Html {
  return html`<h1>${status === 404 ? 'Not found' : status >= 500 ? 'Server error' : 'Request refused'}</h1>
    <p class="error" id="error">${message}</p>
    <p><a href="/">back to the DAGs</a></p>`;
}
