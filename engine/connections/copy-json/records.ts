/**
 * Splits a JSON data file into records the way Redshift `COPY ... JSON` reads
 * it: newline-delimited objects, but also objects (or arrays) that are
 * pretty-printed over several lines or concatenated with no separator at all.
 * Every record carries the 1-based line where it starts.
 *
 * A record that is not valid JSON is returned as text with the parser's
 * message, so the loader can reject it with its line number. Resynchronising
 * after a broken record is line-based: a raw newline inside a string ends the
 * broken record, and so does a new line starting with `{` or `[` where no
 * value may start (valid multi-line JSON never has that shape).
 *
 * Fast path: a line that starts with `{` is first tried as a whole with
 * JSON.parse; only lines that fail go through the character scanner.
 */
import { StringDecoder } from 'node:string_decoder';

export type JsonRecord =
  | { line: number; value: unknown; text?: undefined; error?: undefined }
  | { line: number; value?: undefined; text: string; error: string };

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
  try {
    const value: unknown = JSON.parse(text);
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
      if (text) out.push(this.depth > 0 || this.junk ? brokenOrParsed(text, this.startLine) : parseRecord(text, this.startLine));
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
              const value: unknown = JSON.parse(s.slice(i, end));
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
        const nl = s.indexOf('\n', i);
        if (nl < 0) {
          i = n;
          break;
        }
        out.push(brokenOrParsed(s.slice(this.start, nl).trimEnd(), this.startLine));
        this.resetRecord();
        i = nl;
        continue;
      }
      const c = s.charCodeAt(i);
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
            out.push(parseRecord(s.slice(this.start, i + 1), this.startLine));
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

/**
 * Reads a byte stream (UTF-8) and yields its records in batches, one batch per
 * incoming chunk, so memory stays bounded by the chunk and record size.
 */
export async function* readJsonRecords(
  chunks: AsyncIterable<Buffer | string> | Iterable<Buffer | string>,
): AsyncGenerator<JsonRecord[]> {
  const decoder = new StringDecoder('utf8');
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
