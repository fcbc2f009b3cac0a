/**
 * The fast path of the COPY-JSON emulation: one JSON object line (bytes) ->
 * one CSV row (bytes), without JSON.parse. It handles the common shape (flat
 * objects of strings, numbers, booleans and nulls) and declines anything
 * else, which then takes the general converter (convert.ts); what it does
 * write is byte for byte what the general converter writes (the parity
 * tests check it on real and generated data).
 */
import type { JsonMapping } from '../../interfaces.js';
import { Bad, convertOptions, fieldFor, isBlank, type ColumnInfo, type ConvertOptions } from './convert.js';
import { compileJsonPath } from './jsonpaths.js';
import { decodeUtf8, JsonNumber, significantDigits } from './lossless.js';

/**
 * A growable output buffer of CSV bytes. Rows are written straight into it;
 * `take()` hands the filled part to a sink and starts a fresh buffer (the
 * sink may keep the one it got, e.g. queued on a socket).
 */
export class CsvBuffer {
  buf: Buffer;
  pos = 0;

  constructor(private readonly size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
  }

  /** Appends a string as UTF-8. */
  writeString(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** The bytes written so far; the buffer starts over empty. */
  take(): Buffer {
    const out = this.buf.subarray(0, this.pos);
    this.buf = Buffer.allocUnsafe(Math.max(this.size, this.buf.length));
    this.pos = 0;
    return out;
  }
}

/**
 * Writes the CSV row of the JSON object held in src[start, end) (one line)
 * into out and returns true; returns false, leaving out unchanged, when the
 * line is not handled here (nested values, duplicate keys, a value that must
 * be rejected, anything unusual) — the caller then takes the general path
 * (JSON.parse + RowConverter), which gives the exact result or rejection.
 * What it does write is byte for byte what the RowConverter would write.
 */
export type FastRowEncoder = (src: Buffer, start: number, end: number, out: CsvBuffer) => boolean;

/** What a key's value is (fast path). */
const enum T {
  Missing = 0,
  Null = 1,
  True = 2,
  False = 3,
  Num = 4,
  /** A string of printable ASCII without escapes: its bytes are its text. */
  Str = 5,
  /** A string with escapes or non-ASCII bytes. */
  XStr = 6,
}

/** How a column is written (fast path). */
const enum M {
  Generic = 0,
  Text = 1,
  Int = 2,
  Double = 3,
}

/** Bytes (const enums are inlined: module-level consts would cost a TDZ check per use in the hot loop). */
const enum B {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  Colon = 0x3a,
  LBrace = 0x7b,
  RBrace = 0x7d,
  Minus = 0x2d,
  Dot = 0x2e,
  D0 = 0x30,
  D9 = 0x39,
  NL = 0x0a,
}

function isWs(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0d || b === 0x0a;
}

function hexVal(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  const l = b | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/**
 * Builds the byte-level encoder for a table, or null when the mapping needs
 * the general path (JSONPaths with nested members or array indexes).
 */
export function createFastRowEncoder(
  columns: readonly ColumnInfo[],
  mapping: JsonMapping,
  timeformat: string,
  options: Partial<Omit<ConvertOptions, 'timeformat'>> = {},
): FastRowEncoder | null {
  const n = columns.length;
  if (n === 0) return null;
  // Each column reads one top-level key ("slot"); keys map to slots.
  const slotOf = new Map<string, number>();
  const colSlot = new Int32Array(n).fill(-1);
  const lowerKeys = mapping.kind === 'auto ignorecase';
  if (mapping.kind === 'jsonpaths') {
    if (mapping.paths.length !== n) return null;
    for (let i = 0; i < n; i++) {
      const steps = compileJsonPath(mapping.paths[i]!, mapping.file, i);
      if (steps.length !== 1 || typeof steps[0] !== 'string') return null;
      const key = steps[0];
      let s = slotOf.get(key);
      if (s === undefined) slotOf.set(key, (s = slotOf.size));
      colSlot[i] = s;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const key = lowerKeys ? columns[i]!.name.toLowerCase() : columns[i]!.name;
      if (slotOf.has(key)) continue; // ignorecase: the first column with the name takes the key
      slotOf.set(key, slotOf.size);
      colSlot[i] = slotOf.get(key)!;
    }
  }
  const slots = slotOf.size;
  const vType = new Uint8Array(slots);
  const vStart = new Int32Array(slots);
  const vEnd = new Int32Array(slots);
  /** A number token that is a plain integer (no fraction, no exponent). */
  const vInt = new Uint8Array(slots);
  const seen = new Int32Array(slots);
  let gen = 0;

  const opts = convertOptions(timeformat, options);
  const fields = columns.map((c) => fieldFor(c, opts));
  const nullable = columns.map((c) => c.nullable);
  const maxLen = columns.map((c) => c.maxLength ?? -1);
  const mode = columns.map((c) =>
    c.kind === 'text'
      ? M.Text
      : c.kind === 'integer' || c.kind === 'bigint' || c.kind === 'smallint'
        ? M.Int
        : c.kind === 'double'
          ? M.Double
          : M.Generic,
  );
  const intLo = columns.map((c) =>
    c.kind === 'smallint' ? -32768 : c.kind === 'integer' ? -2147483648 : -Number.MAX_SAFE_INTEGER,
  );
  const intHi = columns.map((c) => (c.kind === 'smallint' ? 32767 : c.kind === 'integer' ? 2147483647 : Number.MAX_SAFE_INTEGER));

  // Key cache by position in the object: records of one file repeat their keys in order.
  const cacheKey: Buffer[] = [];
  const cacheSlot: number[] = [];

  const lookupKey = (src: Buffer, ks: number, ke: number, k: number): number => {
    const cached = cacheKey[k];
    if (cached !== undefined && cached.length === ke - ks) {
      let same = true;
      for (let j = 0; j < cached.length; j++) {
        if (cached[j] !== src[ks + j]) {
          same = false;
          break;
        }
      }
      if (same) return cacheSlot[k]!;
    }
    let key = src.toString('latin1', ks, ke);
    if (lowerKeys) key = key.toLowerCase();
    const slot = slotOf.get(key) ?? -1;
    cacheKey[k] = Buffer.from(src.subarray(ks, ke));
    cacheSlot[k] = slot;
    return slot;
  };

  /** The JSON value of a slot, as JSON.parse would give it. */
  const valueOf = (src: Buffer, s: number): unknown => {
    switch (vType[s]) {
      case T.Null:
        return null;
      case T.True:
        return true;
      case T.False:
        return false;
      case T.Num: {
        // Long numbers keep their digits, as the general path's lossless parse keeps them.
        const text = src.toString('latin1', vStart[s]!, vEnd[s]!);
        return text.length > 15 && significantDigits(text) > 15 ? new JsonNumber(text) : Number(text);
      }
      case T.Str:
        return src.toString('latin1', vStart[s]!, vEnd[s]!);
      case T.XStr:
        return JSON.parse(decodeUtf8(src, vStart[s]! - 1, vEnd[s]! + 1)) as unknown;
      default:
        return undefined;
    }
  };

  /** Writes an escaped ASCII string as a quoted CSV text field; false when it needs the general path. */
  const writeEscaped = (src: Buffer, s: number, e: number, max: number, out: CsvBuffer): boolean => {
    out.ensure((e - s) * 2 + 2);
    const buf = out.buf;
    let p = out.pos;
    buf[p++] = B.Quote;
    let bytes = 0;
    for (let k = s; k < e; k++) {
      let b = src[k]!;
      if (b >= 0x80) return false;
      if (b === B.Backslash) {
        const c = src[++k]!;
        switch (c) {
          case 0x62:
            b = 0x08;
            break; // \b
          case 0x66:
            b = 0x0c;
            break; // \f
          case 0x6e:
            b = 0x0a;
            break; // \n
          case 0x72:
            b = 0x0d;
            break; // \r
          case 0x74:
            b = 0x09;
            break; // \t
          case 0x75: {
            // \uXXXX
            const cp =
              (hexVal(src[k + 1]!) << 12) | (hexVal(src[k + 2]!) << 8) | (hexVal(src[k + 3]!) << 4) | hexVal(src[k + 4]!);
            if (cp <= 0 || cp >= 0x80) return false;
            b = cp;
            k += 4;
            break;
          }
          default:
            b = c; // \" \\ \/
        }
      }
      if (b === B.Quote) buf[p++] = B.Quote;
      buf[p++] = b;
      bytes++;
    }
    if (max >= 0 && bytes > max) return false;
    buf[p++] = B.Quote;
    out.pos = p;
    return true;
  };

  /** The general conversion of one column (same rules as createRowConverter); false = reject/decline. */
  const generic = (src: Buffer, col: number, slot: number, t: number, out: CsvBuffer): boolean => {
    let v: unknown;
    try {
      v = t === T.Missing ? undefined : valueOf(src, slot);
    } catch {
      return false;
    }
    const f = fields[col]!;
    if (v === undefined || v === null || (f.blankIsNull && isBlank(v))) return nullable[col]!;
    const r = f.fn(v);
    if (r instanceof Bad) return false;
    out.writeString(r);
    return true;
  };

  const copyBytes = (src: Buffer, s: number, e: number, out: CsvBuffer): void => {
    out.ensure(e - s);
    const buf = out.buf;
    let p = out.pos;
    for (let k = s; k < e; k++) buf[p++] = src[k]!;
    out.pos = p;
  };

  return (src, start, end, out) => {
    // Closure constants read once into locals (each closure read costs a check).
    const vType_ = vType;
    const vStart_ = vStart;
    const vEnd_ = vEnd;
    const vInt_ = vInt;
    const seen_ = seen;
    const colSlot_ = colSlot;
    const mode_ = mode;
    const nullable_ = nullable;
    const maxLen_ = maxLen;
    // ---- scan the object: record each key's value span ----
    if (src[start] !== B.LBrace) return false;
    const g = ++gen;
    let i = start + 1;
    while (i < end && isWs(src[i]!)) i++;
    if (src[i] === B.RBrace) i++;
    else {
      for (let k = 0; ; k++) {
        if (i >= end || src[i] !== B.Quote) return false;
        const ks = ++i;
        let b = 0;
        while (i < end && (b = src[i]!) !== B.Quote) {
          if (b === B.Backslash || b < 0x20 || b >= 0x80) return false;
          i++;
        }
        if (i >= end) return false;
        const slot = lookupKey(src, ks, i, k);
        i++;
        while (i < end && isWs(src[i]!)) i++;
        if (src[i] !== B.Colon) return false;
        i++;
        while (i < end && isWs(src[i]!)) i++;
        if (i >= end) return false;
        // value
        let t: number;
        let vs = i;
        let isInt = 1;
        b = src[i]!;
        if (b === B.Quote) {
          t = T.Str;
          vs = ++i;
          for (;;) {
            if (i >= end) return false;
            b = src[i]!;
            if (b === B.Quote) break;
            if (b === B.Backslash) {
              t = T.XStr;
              const c = src[i + 1];
              if (c === 0x75) {
                if (i + 5 >= end) return false;
                for (let h = 2; h <= 5; h++) if (hexVal(src[i + h]!) < 0) return false;
                i += 6;
                continue;
              }
              if (
                c !== B.Quote &&
                c !== B.Backslash &&
                c !== 0x2f &&
                c !== 0x62 &&
                c !== 0x66 &&
                c !== 0x6e &&
                c !== 0x72 &&
                c !== 0x74
              ) {
                return false;
              }
              i += 2;
              continue;
            }
            if (b < 0x20) return false;
            if (b >= 0x80) t = T.XStr;
            i++;
          }
          // i at the closing quote
        } else if (b === B.Minus || (b >= B.D0 && b <= B.D9)) {
          t = T.Num;
          if (b === B.Minus) i++;
          b = src[i]!;
          if (b === B.D0) i++;
          else if (b > B.D0 && b <= B.D9) {
            do i++;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9);
          } else return false;
          if (i < end && src[i] === B.Dot) {
            isInt = 0;
            i++;
            const d0 = i;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9) i++;
            if (i === d0) return false;
          }
          if (i < end && (src[i]! | 0x20) === 0x65) {
            isInt = 0;
            i++;
            if (src[i] === 0x2b || src[i] === B.Minus) i++;
            const d0 = i;
            while (i < end && (b = src[i]!) >= B.D0 && b <= B.D9) i++;
            if (i === d0) return false;
          }
        } else if (b === 0x6e && src[i + 1] === 0x75 && src[i + 2] === 0x6c && src[i + 3] === 0x6c) {
          t = T.Null;
          i += 4;
        } else if (b === 0x74 && src[i + 1] === 0x72 && src[i + 2] === 0x75 && src[i + 3] === 0x65) {
          t = T.True;
          i += 4;
        } else if (b === 0x66 && src[i + 1] === 0x61 && src[i + 2] === 0x6c && src[i + 3] === 0x73 && src[i + 4] === 0x65) {
          t = T.False;
          i += 5;
        } else {
          return false; // nested object/array, or not JSON
        }
        if (i > end) return false;
        if (slot >= 0) {
          if (seen_[slot] === g) return false; // duplicate key: JSON.parse keeps the last, leave it to it
          seen_[slot] = g;
          vType_[slot] = t;
          vStart_[slot] = vs;
          vEnd_[slot] = i;
          vInt_[slot] = isInt;
        }
        if (t === T.Str || t === T.XStr) i++; // past the closing quote
        while (i < end && isWs(src[i]!)) i++;
        b = src[i]!;
        if (b === B.Comma) {
          i++;
          while (i < end && isWs(src[i]!)) i++;
          continue;
        }
        if (b === B.RBrace) {
          i++;
          break;
        }
        return false;
      }
    }
    while (i < end && isWs(src[i]!)) i++;
    if (i !== end) return false;

    // ---- emit the row ----
    const rowStart = out.pos;
    for (let c = 0; c < n; c++) {
      if (c > 0) {
        out.ensure(1);
        out.buf[out.pos++] = B.Comma;
      }
      const slot = colSlot_[c]!;
      const t = slot < 0 || seen_[slot] !== g ? T.Missing : vType_[slot]!;
      if (t === T.Missing || t === T.Null) {
        if (!nullable_[c]) {
          out.pos = rowStart;
          return false;
        }
        continue;
      }
      const m = mode_[c]!;
      let ok = false;
      if (m === M.Text) {
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        if (t === T.Str) {
          const max = maxLen_[c]!;
          if (max >= 0 && e - s > max) {
            out.pos = rowStart;
            return false;
          }
          out.ensure(e - s + 2);
          out.buf[out.pos++] = B.Quote;
          copyBytes(src, s, e, out);
          out.buf[out.pos++] = B.Quote;
          ok = true;
        } else if (t === T.XStr) {
          const at = out.pos;
          ok = writeEscaped(src, s, e, maxLen_[c]!, out);
          if (!ok) {
            out.pos = at;
            ok = generic(src, c, slot, t, out);
          }
        } else ok = generic(src, c, slot, t, out);
      } else if (m === M.Int && t === T.Num && vInt_[slot] === 1) {
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        const neg = src[s] === B.Minus;
        const digits = e - s - (neg ? 1 : 0);
        if (digits <= 15 && !(neg && src[s + 1] === B.D0)) {
          let x = 0;
          for (let k = neg ? s + 1 : s; k < e; k++) x = x * 10 + (src[k]! - B.D0);
          if (neg) x = -x;
          ok = x >= intLo[c]! && x <= intHi[c]!;
          if (ok) copyBytes(src, s, e, out);
        } else ok = generic(src, c, slot, t, out);
      } else if (
        m === M.Double &&
        t === T.Num &&
        vEnd_[slot]! - vStart_[slot]! <= 24 &&
        !(src[vStart_[slot]!] === B.Minus && src[vStart_[slot]! + 1] === B.D0)
      ) {
        // No exponent can overflow here; the server reads the same double from this text as from String(Number(text)).
        const s = vStart_[slot]!;
        const e = vEnd_[slot]!;
        let exp = false;
        for (let k = s; k < e; k++) if ((src[k]! | 0x20) === 0x65) exp = true;
        if (exp) ok = generic(src, c, slot, t, out);
        else {
          copyBytes(src, s, e, out);
          ok = true;
        }
      } else ok = generic(src, c, slot, t, out);
      if (!ok) {
        out.pos = rowStart;
        return false;
      }
    }
    out.ensure(1);
    out.buf[out.pos++] = B.NL;
    return true;
  };
}
