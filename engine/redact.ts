/**
 * Redaction of secrets from anything Sluice prints or stores: console, the
 * state DB, error messages, --json output.
 */

const MASK = '***';

/** Object keys whose values are secrets. */
const SECRET_KEY = /pass(word|wd)?$|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential|^authorization$/i;

const TEXT_RULES: [RegExp, string][] = [
  // URL userinfo: scheme://user:password@host
  [/([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*):[^@\s/]+@/gi, `$1:${MASK}@`],
  // key=value and key: value pairs (query strings, connection strings, messages)
  [
    /\b([a-z_]*?(?:password|passwd|pwd|secret|token|api_?key|access_?key|secret_?access_?key|session_?token)s?)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'"]+)/gi,
    `$1$2${MASK}`,
  ],
  // AWS access key ids
  [/\b(AKIA|ASIA)[A-Z0-9]{16}\b/g, MASK],
  // Authorization headers
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g, `$1 ${MASK}`],
];

/** Masks passwords, secrets, tokens, keys and URL passwords in a string. */
export function redactText(s: string): string {
  let out = s;
  for (const [re, rep] of TEXT_RULES) out = out.replace(re, rep);
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
