/**
 * Byte-level formatting that matches the real Sparkify files.
 *
 * - Song files were written by Python's `json.dumps`: `", "` and `": "`
 *   separators, non-ASCII escaped as lowercase `\uXXXX` (`ensure_ascii`),
 *   `/` left alone, floats always with a fraction (`200.0`).
 * - Event logs were written by the event simulator's serialiser: no spaces,
 *   `/` escaped as `\/`, non-ASCII escaped as lowercase `\uXXXX`, and
 *   `registration` written as a float (`1540919166796.0`).
 */

const HEX = '0123456789abcdef';

function u4(code: number): string {
  return '\\u' + HEX[(code >>> 12) & 15] + HEX[(code >>> 8) & 15] + HEX[(code >>> 4) & 15] + HEX[code & 15];
}

const PLAIN = /^[\x20-\x21\x23-\x2e\x30-\x5b\x5d-\x7e]*$/;

function encode(s: string, escapeSlash: boolean): string {
  if (PLAIN.test(s)) return '"' + s + '"';
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x2f) out += escapeSlash ? '\\/' : '/';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += u4(c);
    else out += s[i];
  }
  return out + '"';
}

/** A JSON string literal as Python's `json.dumps` writes it (song files). */
export function songJsonString(s: string): string {
  return encode(s, false);
}

/** A JSON string literal as the event simulator writes it (log files). */
export function logJsonString(s: string): string {
  return encode(s, true);
}

/** A float as Python's `repr` writes it: `153.33832`, `-86.77836`, `200.0`. */
export function pyFloat(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite float: ${x}`);
  const s = String(x);
  return /[.e]/.test(s) ? s : s + '.0';
}

/**
 * Double-encoded mojibake as found in the real logs: the UTF-8 bytes read as
 * Latin-1, twice. "Esmée" becomes "EsmÃ\u0083Â©e" (escaped
 * `Esm\u00c3\u0083\u00c2\u00a9e` on disk).
 */
export function mojibake(s: string): string {
  const once = Buffer.from(s, 'utf8').toString('latin1');
  return Buffer.from(once, 'utf8').toString('latin1');
}

/** Whether a string has any character outside printable ASCII. */
export function isNonAscii(s: string): boolean {
  return /[^\x20-\x7e]/.test(s);
}
