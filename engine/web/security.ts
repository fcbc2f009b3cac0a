/**
 * Who may read and change state. On a loopback address (the default,
 * 127.0.0.1) pages are read by anyone on the machine; on any other address
 * reading needs a log-in or the token too, unless the server was started
 * with --public-read (see server.ts). Every state-changing request
 * is a POST that carries either the server's token (scripts: an
 * `Authorization: Bearer` or `X-Sluice-Token` header) or a browser session
 * opened by logging in with the token plus that session's CSRF value (a
 * hidden form field or an `X-CSRF-Token` header). A POST whose Origin is
 * another site is refused before anything else: a page elsewhere cannot
 * drive this one, even for a logged-in browser.
 */
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebError, type Fields } from './http.js';

export const SESSION_COOKIE = 'sluice_session';
/** The hidden form field (and header) holding a session's CSRF value. */
export const CSRF_FIELD = '_csrf';
/** A token chosen through SLUICE_WEB_TOKEN must be at least this long. */
export const MIN_TOKEN = 16;

export function newToken(): string {
  return crypto.randomBytes(24).toString('base64url');
}

function sameSecret(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) out.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  return out;
}

export class Guard {
  /** Signs CSRF values; new at each start, so a restart ends every session. */
  private readonly key = crypto.randomBytes(32);
  private readonly sessions = new Set<string>();

  constructor(private readonly token: string) {}

  /** The session the request's cookie names, if it is one of ours. */
  session(req: IncomingMessage): string | null {
    const id = cookies(req).get(SESSION_COOKIE);
    return id && this.sessions.has(id) ? id : null;
  }

  /** The CSRF value of a session: forms carry it back. */
  csrf(session: string): string {
    return crypto.createHmac('sha256', this.key).update(session).digest('base64url');
  }

  /** Logs a browser in with the token; returns the Set-Cookie value. */
  login(token: string | undefined): string {
    if (!token || !sameSecret(token, this.token))
      throw new WebError(403, 'wrong token: use the one the webserver printed at start (or SLUICE_WEB_TOKEN)');
    const id = crypto.randomBytes(24).toString('base64url');
    this.sessions.add(id);
    return `${SESSION_COOKIE}=${id}; HttpOnly; SameSite=Strict; Path=/`;
  }

  logout(req: IncomingMessage): string {
    const id = this.session(req);
    if (id) this.sessions.delete(id);
    return `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
  }

  /**
   * Refuses a POST from another site: its Origin (or, without one, its
   * Sec-Fetch-Site) must say it comes from this server's own pages.
   */
  checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin !== undefined) {
      if (origin !== `http://${req.headers.host ?? ''}`) {
        throw new WebError(403, `cross-origin request refused (Origin ${origin}): act from this server's own pages`);
      }
      return;
    }
    const site = req.headers['sec-fetch-site'];
    if (site && site !== 'same-origin' && site !== 'none') {
      throw new WebError(403, "cross-site request refused: act from this server's own pages");
    }
  }

  /** Whether a request may read pages that are not public: a logged-in browser, or the token in a header. */
  mayRead(req: IncomingMessage): boolean {
    if (this.session(req)) return true;
    const auth = req.headers.authorization;
    const header = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : (req.headers['x-sluice-token'] as string | undefined);
    return header !== undefined && sameSecret(header, this.token);
  }

  /** A state-changing request: the token in a header, or a session with its CSRF value. */
  authorize(req: IncomingMessage, fields: Fields): void {
    this.checkOrigin(req);
    const auth = req.headers.authorization;
    const header = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : (req.headers['x-sluice-token'] as string | undefined);
    if (header !== undefined) {
      if (!sameSecret(header, this.token)) throw new WebError(403, 'wrong token');
      return;
    }
    const session = this.session(req);
    if (!session) {
      throw new WebError(
        401,
        'log in first (/login, with the token the webserver printed), or send the token in an Authorization: Bearer header',
      );
    }
    const sent = (req.headers['x-csrf-token'] as string | undefined) ?? fields[CSRF_FIELD];
    if (typeof sent !== 'string' || !sameSecret(sent, this.csrf(session))) {
      throw new WebError(403, 'missing or stale form token (CSRF check): reload the page and try again');
    }
  }
}
