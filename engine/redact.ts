/**
 * Redaction of secrets from anything Sluice prints or stores: console, the
 * state DB, error messages, --json output.
 */

const MASK = '***';

/** Object keys whose values are secrets. */
const SECRET_KEY = /pass(word|wd)?$|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|^authorization$/i;

/** Characters that end a URL inside free text (a password holding one is caught by the known-secret list). */
const TEXT_URL_END = /[\s"'<>`]/;
/** Where a URL starts: `scheme://`. */
const URL_START = /\b[a-z][a-z0-9+.-]*:\/\//gi;
/** A host after the userinfo's '@': a name or an [IPv6] literal, with an optional port. */
const HOST = /(?:\[[0-9A-Fa-f:.]+\]|[\p{L}\p{N}._~%-]+)(?::\d{0,5})?/uy;
/** What may follow a host in free text before the URL's end: its path, query, fragment, or closing punctuation. */
const AFTER_HOST = /^(?:[/?#]|[),.;:!\]}]*$)/;

/**
 * The span of the password in a URL's userinfo, `scheme://user:PASSWORD@host`,
 * searched between `from` (just after `//`) and `to` (the URL's end); null
 * when the URL has none. Users write passwords unencoded, holding '/', '?',
 * '#', '@' or ':', so the userinfo cannot end at the first '/', '?' or '#'
 * as RFC 3986 reads it: it ends at the LAST '@' that a host follows, and the
 * password starts after the first ':'. Reading more as the password than
 * the URL holds (an '@' in a query value) only masks more, never less.
 */
export function urlPasswordSpan(s: string, from: number, to: number): { start: number; end: number } | null {
  for (let at = s.lastIndexOf('@', to - 1); at >= from; at = at > 0 ? s.lastIndexOf('@', at - 1) : -1) {
    HOST.lastIndex = at + 1;
    const host = HOST.exec(s);
    if (!host || host.index !== at + 1 || at + 1 + host[0].length > to) continue;
    if (!AFTER_HOST.test(s.slice(at + 1 + host[0].length, to))) continue;
    const colon = s.indexOf(':', from);
    if (colon < 0 || colon >= at) return null;
    return colon + 1 < at ? { start: colon + 1, end: at } : null;
  }
  return null;
}

/** Masks the password of every `scheme://user:password@host` in free text. */
function maskUrlPasswords(text: string): string {
  let out = '';
  let done = 0;
  URL_START.lastIndex = 0;
  for (let m = URL_START.exec(text); m; m = URL_START.exec(text)) {
    const from = m.index + m[0].length;
    const rest = text.slice(from).search(TEXT_URL_END);
    const to = rest < 0 ? text.length : from + rest;
    const span = urlPasswordSpan(text, from, to);
    if (span && text.slice(span.start, span.end) !== MASK) {
      out += text.slice(done, span.start) + MASK;
      done = span.end;
    }
    URL_START.lastIndex = span ? span.end : from;
  }
  return out + text.slice(done);
}

const TEXT_RULES: [RegExp, string | ((...m: string[]) => string)][] = [
  // key=value and key: value pairs (query strings, connection strings, messages). The key is a
  // single word ending in a secret's name (`secrets: use` is prose, not a pair); a reference to an
  // environment variable (`password_env=VAR`) is not a secret. Closing brackets after the value
  // belong to the text around it.
  [
    /\b([a-z_]*?(?:password|passwd|pwd|secret|token|api_?key|access_?key|secret_?access_?key|session_?token))(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'"]+)/gi,
    (_all: string, key: string, sep: string, value: string) => {
      const closers = /[)\]}]+$/.exec(value)?.[0] ?? '';
      const opened = (value.match(/[([{]/g) ?? []).length;
      const tail = closers && opened < closers.length ? closers.slice(opened) : '';
      return `${key}${sep}${MASK}${tail}`;
    },
  ],
  // AWS access key ids
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, MASK],
  // Authorization headers
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
];

/**
 * Secrets known by value (connection passwords, secret URL parameters), masked wherever they
 * appear, however a message quotes them: Airflow's `mask_secret`. Values shorter than
 * MIN_KNOWN_SECRET are not registered (as Airflow's min_length_masked_secret): masking every
 * "abc" in every line would garble the logs and reveal the password as well.
 */
const known = new Set<string>();
let knownPattern: RegExp | null = null;
export const MIN_KNOWN_SECRET = 5;

/** Registers a secret value: from now on it is masked in everything redacted. */
export function registerSecret(value: string | null | undefined): void {
  if (!value || value.length < MIN_KNOWN_SECRET || value === MASK || known.has(value)) return;
  known.add(value);
  const escaped = [...known].sort((a, b) => b.length - a.length).map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  knownPattern = new RegExp(escaped.join('|'), 'g');
}

/** Masks passwords, secrets, tokens, keys and URL passwords in a string. */
export function redactText(s: string): string {
  let out = knownPattern ? s.replace(knownPattern, MASK) : s;
  out = maskUrlPasswords(out);
  for (const [re, rep] of TEXT_RULES) out = out.replace(re, rep as string);
  return out;
}

/** Deep copy of a value with secret-named keys masked and strings redacted. */
export function redactValue<T>(value: T, depth = 0): T {
  if (depth > 20) return value;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1)) as T;
  if (value instanceof Error) {
    const copy = new Error(redactText(value.message));
    copy.name = value.name;
    if (value.stack) copy.stack = redactText(value.stack);
    return copy as T;
  }
  if (value && typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== '' ? MASK : redactValue(v, depth + 1);
    }
    return out as T;
  }
  return value;
}
