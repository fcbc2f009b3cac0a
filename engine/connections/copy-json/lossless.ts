/**
 * Lossless JSON numbers and UTF-8 checks for the COPY-JSON emulation.
 *
 * JSON.parse turns every number into a double, so an integer beyond 2^53
 * (an id, a 19-digit BIGINT) or a long DECIMAL would lose digits before it
 * reaches its column. Redshift keeps every digit. Records whose text holds a
 * long run of digits are therefore parsed again here, keeping numbers with
 * more than 15 significant digits as JsonNumber (their exact text); every
 * other record takes JSON.parse alone, so the common case pays one regex test.
 *
 * Invalid UTF-8 is marked rather than silently replaced: each invalid byte
 * becomes U+FFFF (a noncharacter no real text carries), so a text column can
 * reject the line as Redshift does (error 1220) or, with ACCEPTINVCHARS,
 * replace it with the chosen character.
 */
import { isUtf8 } from 'node:buffer';

/** A JSON number kept as its exact text (more than 15 significant digits). */
export class JsonNumber {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Stands for one invalid UTF-8 byte in decoded text. */
export const INVALID_BYTE = '\uffff';

/** Whether any JsonNumber was ever made (JSON text of objects needs the slower stringify only then). */
let madeJsonNumber = false;

/** A digit run long enough that a number in it may not survive a double. */
const LONG_DIGITS = /[\d.]{16}/;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Digits of a number token, leading zeros aside: more than 15 may not survive a double. */
export function significantDigits(tok: string): number {
  const mant = tok.replace(/^-/, '').replace(/[eE].*$/, '');
  return mant.replace('.', '').replace(/^0+/, '').length;
}

/**
 * JSON.parse, except that numbers with more than 15 significant digits inside
 * objects and arrays come back as JsonNumber. Throws JSON.parse's own error
 * for invalid text.
 */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (value === null || typeof value !== 'object' || !LONG_DIGITS.test(text)) return value;
  try {
    return new LosslessParser(text).parseTop();
  } catch {
    // Deeper than the stack allows: JSON.parse's value is the best there is.
    return value;
  }
}

/** A recursive-descent parser for text JSON.parse has already accepted. */
class LosslessParser {
  private i = 0;
  constructor(private readonly s: string) {}

  parseTop(): unknown {
    this.ws();
    return this.value();
  }

  private ws(): void {
    const s = this.s;
    let c: number;
    while (this.i < s.length && ((c = s.charCodeAt(this.i)) === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff)) {
      this.i++;
    }
  }

  private value(): unknown {
    const s = this.s;
    const c = s[this.i];
    if (c === '{') {
      this.i++;
      const o: Record<string, unknown> = {};
      this.ws();
      if (s[this.i] === '}') {
        this.i++;
        return o;
      }
      for (;;) {
        this.ws();
        const k = this.string();
        this.ws();
        this.i++; // :
        this.ws();
        const v = this.value();
        if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        else o[k] = v;
        this.ws();
        if (s[this.i++] === '}') return o;
      }
    }
    if (c === '[') {
      this.i++;
      const a: unknown[] = [];
      this.ws();
      if (s[this.i] === ']') {
        this.i++;
        return a;
      }
      for (;;) {
        this.ws();
        a.push(this.value());
        this.ws();
        if (s[this.i++] === ']') return a;
      }
    }
    if (c === '"') return this.string();
    if (c === 't') return ((this.i += 4), true);
    if (c === 'f') return ((this.i += 5), false);
    if (c === 'n') return ((this.i += 4), null);
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(s)!;
    this.i += m[0].length;
    if (significantDigits(m[0]) > 15) {
      madeJsonNumber = true;
      return new JsonNumber(m[0]);
    }
    return Number(m[0]);
  }

  private string(): string {
    const s = this.s;
    const start = this.i;
    let j = start + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(j);
      if (c === 34) break;
      if (c === 92) {
        escaped = true;
        j += 2;
      } else j++;
    }
    this.i = j + 1;
    return escaped ? (JSON.parse(s.slice(start, j + 1)) as string) : s.slice(start + 1, j);
  }
}

const MARK = '\ue000';
const MARKED = new RegExp(`"${MARK}([^"${MARK}]*)${MARK}"`, 'g');

/** JSON.stringify that writes JsonNumbers as their exact digits. */
export function stringifyJson(v: unknown): string {
  if (!madeJsonNumber) return JSON.stringify(v);
  const s = JSON.stringify(v, (_k, x: unknown) => (x instanceof JsonNumber ? `${MARK}${x.text}${MARK}` : x));
  return s.includes(MARK) ? s.replace(MARKED, '$1') : s;
}

/** Length of the UTF-8 sequence a lead byte starts (0: not a lead byte). */
function seqLength(b: number): number {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

/** Whether bytes b[i, i+n) form one valid UTF-8 sequence. */
function validSeq(b: Uint8Array, i: number, n: number): boolean {
  if (i + n > b.length) return false;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return false;
  const b0 = b[i]!;
  const b1 = b[i + 1]!;
  if (n === 3 && ((b0 === 0xe0 && b1 < 0xa0) || (b0 === 0xed && b1 >= 0xa0))) return false;
  if (n === 4 && ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 >= 0x90))) return false;
  return true;
}

/** Decodes bytes as UTF-8, each invalid byte becoming INVALID_BYTE. */
export function decodeUtf8(b: Buffer, start = 0, end = b.length): string {
  const s = b.toString('utf8', start, end);
  if (!s.includes('\ufffd') || isUtf8(b.subarray(start, end))) return s;
  let out = '';
  let from = start;
  let i = start;
  while (i < end) {
    const n = seqLength(b[i]!);
    if (n === 1) i++;
    else if (n > 0 && i + n <= end && validSeq(b, i, n)) i += n;
    else {
      out += b.toString('utf8', from, i) + INVALID_BYTE;
      i++;
      from = i;
    }
  }
  return out + b.toString('utf8', from, end);
}

/** A streaming UTF-8 decoder that marks invalid bytes (StringDecoder replaces them with U+FFFD). */
export class Utf8Decoder {
  private carry: Buffer | null = null;

  write(chunk: Buffer): string {
    const b = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    // Keep an incomplete sequence at the end for the next chunk.
    let cut = b.length;
    for (let k = 1; k <= 3 && b.length - k >= 0; k++) {
      const x = b[b.length - k]!;
      if ((x & 0xc0) !== 0x80) {
        const n = seqLength(x);
        if (n > k) cut = b.length - k;
        break;
      }
    }
    if (cut < b.length) this.carry = Buffer.from(b.subarray(cut));
    return decodeUtf8(b, 0, cut);
  }

  end(): string {
    const rest = this.carry;
    this.carry = null;
    return rest ? decodeUtf8(rest) : '';
  }
}
