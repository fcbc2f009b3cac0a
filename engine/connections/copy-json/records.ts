/**
 * Splits a JSON data file into records the way Redshift `COPY ... JSON` reads
 * it: newline-delimited objects, but also objects (or arrays) that are
 * pretty-printed over several lines or concatenated with no separator at all.
 * Every record carries the 1-based line where it starts and, when it spans
 * several lines, the line where it ends (`endLine`): Redshift's
 * stl_load_errors.line_number for a multi-line object is its last line. A
 * record that never closes (cut by a raw newline in a string, by a new
 * record, or by the end of the data) has no known last line and is named
 * by its first.
 *
 * A record that is not valid JSON is returned as text with the parser's
 * message, so the loader can reject it with its line number. Resynchronising
 * after a broken record is line-based: a raw newline inside a string ends the
 * broken record, and so does a new line starting with `{` or `[` where no
 * value may start (valid multi-line JSON never has that shape). Junk between
 * records (a comma, a stray word) is one rejected record, and reading resumes
 * at the next `{` or `[`, on the same line or a later one.
 *
 * A record larger than 4 MB (Redshift's limit for one JSON object or array)
 * is a `tooLarge` record: the loader fails the load on it.
 *
 * Fast path: a line that starts with `{` is first tried as a whole with
 * JSON.parse; only lines that fail go through the character scanner.
 */
import { parseJson, Utf8Decoder } from './lossless.js';

export type JsonRecord =
  | { line: number; endLine?: number; value: unknown; text?: undefined; error?: undefined; tooLarge?: undefined }
  | { line: number; endLine?: number; value?: undefined; text: string; error: string; tooLarge?: boolean };

/** The line a rejection of this record names: its last line. */
export function rejectionLine(r: JsonRecord): number {
  return r.endLine ?? r.line;
}

/** r with its end line set (when it differs from its start). */
function ending(r: JsonRecord, endLine: number): JsonRecord {
  if (endLine !== r.line) r.endLine = endLine;
  return r;
}

/** Redshift's limit for one JSON object or array, braces included. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

/** The record for text over MAX_RECORD_BYTES (only its start is kept). */
function tooLarge(text: string, line: number): JsonRecord {
  return {
    line,
    text: text.slice(0, 256),
    error: `JSON object is larger than Redshift's 4 MB limit for one object or array (${MAX_RECORD_BYTES} bytes)`,
    tooLarge: true,
  };
}

/** Whether text is over the 4 MB limit in UTF-8 bytes (counted only when it could be). */
export function overRecordLimit(text: string): boolean {
  return text.length > MAX_RECORD_BYTES || (text.length * 3 > MAX_RECORD_BYTES && Buffer.byteLength(text) > MAX_RECORD_BYTES);
}

const NL = 10;
const CR = 13;
const SP = 32;
const TAB = 9;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const BOM = 0xfeff;
const COLON = 58;
const COMMA = 44;
/** A line longer than this is scanned incrementally instead of waiting for its newline. */
const MAX_PENDING_LINE = 1 << 20;

/** Parses text as one record; a failure keeps the text and the parser's message. */
export function parseRecord(text: string, line: number): JsonRecord {
  if (overRecordLimit(text)) return tooLarge(text, line);
  try {
    const value: unknown = parseJson(text);
    return { line, value };
  } catch (err) {
    return { line, text, error: `invalid JSON: ${(err as Error).message}` };
  }
}

/** Incremental splitter: push decoded text, collect records; call end() at end of input. */
export class JsonRecordSplitter {
  private buf = '';
  private pos = 0;
  private line = 1;
  /** Start of the record being read in buf, or -1 between records. */
  private start = -1;
  private startLine = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private junk = false;
  private lastSig = 0;
  private newlineSinceSig = false;
  /** Open containers of the record being scanned ({ or [). */
  private stack: number[] = [];
  /** How far (from start) a pending fast-path line is known to hold no newline. */
  private pendingScanned = 0;
  /** Set after a too-large record: the loader fails the load, nothing more is read. */
  private aborted = false;

  /** startLine: the line number of the first text pushed (when the input is taken up mid-object). */
  constructor(startLine = 1) {
    this.line = startLine;
  }

  /** The line the text pushed so far has reached (where the input broke off, if it breaks off now). */
  get lineReached(): number {
    return this.line;
  }

  /** Adds text and appends every record completed by it to `out`. */
  push(text: string, out: JsonRecord[]): void {
    if (this.start >= 0) {
      this.buf = this.buf.slice(this.start) + text;
      this.pos -= this.start;
      this.start = 0;
    } else {
      this.buf = text;
      this.pos = 0;
    }
    this.scan(false, out);
  }

  /** Flushes the last record (possibly an unterminated, invalid one). */
  end(out: JsonRecord[]): void {
    this.scan(true, out);
    if (this.start >= 0) {
      const text = this.buf.slice(this.start).trimEnd();
      if (text) {
        if (this.junk) out.push(junkRecord(text, this.startLine));
        else out.push(brokenOrParsed(text, this.startLine));
      }
    }
    this.buf = '';
    this.start = -1;
    this.pos = 0;
  }

  /**
   * Whether a value may start here: inside an object only after ':', inside
   * an array only after '[' or ','. Used to end a broken record at a line
   * that starts a new one.
   */
  private valueMayStart(): boolean {
    const top = this.stack[this.stack.length - 1];
    if (top === LBRACE) return this.lastSig === COLON;
    return this.lastSig === LBRACKET || this.lastSig === COMMA;
  }

  private resetRecord(): void {
    this.start = -1;
    this.depth = 0;
    this.inString = false;
    this.escape = false;
    this.junk = false;
    this.pendingScanned = 0;
  }

  private scan(final: boolean, out: JsonRecord[]): void {
    if (this.aborted) return;
    const s = this.buf;
    const n = s.length;
    let i = this.pos;
    while (i < n) {
      if (this.depth === 0 && !this.junk) {
        const c = s.charCodeAt(i);
        if (c === NL) {
          this.line++;
          i++;
          continue;
        }
        if (c === SP || c === TAB || c === CR || c === BOM) {
          i++;
          continue;
        }
        if (c === LBRACE || c === LBRACKET) {
          const from = this.start === i ? i + this.pendingScanned : i;
          const nl = s.indexOf('\n', from);
          if (nl < 0 && !final && n - i < MAX_PENDING_LINE) {
            // Wait for the rest of the line.
            this.start = i;
            this.startLine = this.line;
            this.pendingScanned = n - i;
            this.pos = i;
            return;
          }
          this.pendingScanned = 0;
          if (nl >= 0 || final) {
            const end = nl < 0 ? n : nl;
            try {
              const text = s.slice(i, end);
              if (overRecordLimit(text)) {
                out.push(tooLarge(text, this.line));
                this.start = -1;
                i = end;
                continue;
              }
              const value: unknown = parseJson(text);
              out.push({ line: this.line, value });
              this.start = -1;
              i = end;
              continue;
            } catch {
              // not one whole record on this line: scan it
            }
          }
          this.start = i;
          this.startLine = this.line;
          this.depth = 1;
          this.stack = [c];
          this.lastSig = c;
          this.newlineSinceSig = false;
          i++;
          continue;
        }
        this.junk = true;
        this.start = i;
        this.startLine = this.line;
        i++;
        continue;
      }
      if (this.junk) {
        // Junk runs to the next place a record may start: a '{' or '['.
        let next = i;
        while (next < n) {
          const c = s.charCodeAt(next);
          if (c === LBRACE || c === LBRACKET) break;
          if (c === NL) this.line++;
          next++;
        }
        if (next >= n) {
          i = n;
          break;
        }
        out.push(junkRecord(s.slice(this.start, next).trimEnd(), this.startLine));
        this.resetRecord();
        i = next;
        continue;
      }
      const c = s.charCodeAt(i);
      if (this.start >= 0 && i - this.start > MAX_RECORD_BYTES) {
        // Too large whatever follows: fail now rather than buffer it all.
        out.push(tooLarge(s.slice(this.start, this.start + 256), this.startLine));
        this.resetRecord();
        this.pos = i;
        this.buf = '';
        this.start = -1;
        this.aborted = true;
        return;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) {
          this.inString = false;
          this.lastSig = QUOTE;
        } else if (c === NL) {
          // JSON strings cannot hold a raw newline: this record is broken.
          out.push(brokenOrParsed(s.slice(this.start, i).trimEnd(), this.startLine));
          this.resetRecord();
          continue;
        }
        i++;
        continue;
      }
      switch (c) {
        case NL:
          this.line++;
          this.newlineSinceSig = true;
          break;
        case SP:
        case TAB:
        case CR:
          break;
        case QUOTE:
          this.inString = true;
          this.newlineSinceSig = false;
          break;
        case LBRACE:
        case LBRACKET:
          if (this.newlineSinceSig && !this.valueMayStart()) {
            out.push(brokenOrParsed(s.slice(this.start, i).trimEnd(), this.startLine));
            this.resetRecord();
            continue;
          }
          this.depth++;
          this.stack.push(c);
          this.lastSig = c;
          this.newlineSinceSig = false;
          break;
        case RBRACE:
        case RBRACKET:
          this.depth--;
          this.stack.pop();
          this.lastSig = c;
          this.newlineSinceSig = false;
          if (this.depth === 0) {
            out.push(ending(parseRecord(s.slice(this.start, i + 1), this.startLine), this.line));
            this.resetRecord();
          }
          break;
        default:
          this.lastSig = c;
          this.newlineSinceSig = false;
      }
      i++;
    }
    this.pos = i;
  }
}

/** A record the scanner could not close: parse it anyway to get JSON's own message. */
function brokenOrParsed(text: string, line: number): JsonRecord {
  return parseRecord(text, line);
}

/** Text between records that is not a record: one rejection (reading resumes at the next record). */
function junkRecord(text: string, line: number): JsonRecord {
  const r = parseRecord(text, line);
  if (r.error === undefined) return r; // a bare scalar such as 5 or "x": JSON, though not an object
  return { ...r, error: `not a JSON object or array between records: ${r.error}` };
}

/**
 * Reads a byte stream (UTF-8) and yields its records in batches, one batch per
 * incoming chunk, so memory stays bounded by the chunk and record size.
 */
export async function* readJsonRecords(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<JsonRecord[]> {
  const decoder = new Utf8Decoder();
  const splitter = new JsonRecordSplitter();
  for await (const chunk of chunks) {
    const out: JsonRecord[] = [];
    splitter.push(typeof chunk === 'string' ? chunk : decoder.write(chunk), out);
    if (out.length) yield out;
  }
  const out: JsonRecord[] = [];
  const rest = decoder.end();
  if (rest) splitter.push(rest, out);
  splitter.end(out);
  if (out.length) yield out;
}
