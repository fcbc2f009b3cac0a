/**
 * Request plumbing over node:http: errors a request can cause (with their
 * status), body reading with a size limit, form and JSON parsing.
 */
import type { IncomingMessage } from 'node:http';

/** An error a request caused, answered with `status` and the message (never a stack trace). */
export class WebError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Bodies larger than this are refused (413): forms and API requests are small. */
export const MAX_BODY = 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new WebError(413, `request body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A request's fields: a form (repeated names become lists) or a JSON object. */
export type Fields = Record<string, unknown>;

export async function readFields(req: IncomingMessage): Promise<Fields> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const body = await readBody(req);
  if (type === 'application/json') {
    if (!body.trim()) return {};
    let v: unknown;
    try {
      v = JSON.parse(body);
    } catch (err) {
      throw new WebError(400, `the request body is not valid JSON: ${(err as Error).message}`);
    }
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new WebError(400, 'the request body must be a JSON object');
    return v as Fields;
  }
  if (type === 'application/x-www-form-urlencoded' || (type === '' && body === '')) {
    const out: Fields = {};
    for (const [k, v] of new URLSearchParams(body)) {
      const had = out[k];
      out[k] = had === undefined ? v : Array.isArray(had) ? [...had, v] : [had, v];
    }
    return out;
  }
  throw new WebError(
    415,
    `unsupported content type '${type}': send application/json or a form (application/x-www-form-urlencoded)`,
  );
}

/** A field as a string (absent: undefined); a list or object is a 400. */
export function str(f: Fields, name: string): string | undefined {
  const v = f[name];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new WebError(400, `field '${name}' must be a single value`);
}

/** A checkbox or JSON boolean. */
export function flag(f: Fields, name: string): boolean {
  const v = f[name];
  return v === true || v === 'true' || v === 'on' || v === '1' || v === 'yes';
}

/** A field holding one or several strings. */
export function list(f: Fields, name: string): string[] {
  const v = f[name];
  if (v === undefined || v === null || v === '') return [];
  const items = Array.isArray(v) ? v : [v];
  for (const i of items) if (typeof i !== 'string') throw new WebError(400, `field '${name}' must hold task ids (strings)`);
  return (items as string[]).filter((s) => s !== '');
}

/** A whole number query parameter within [min, max] (absent: the default). */
export function intParam(q: URLSearchParams, name: string, def: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new WebError(400, `query parameter '${name}' must be a whole number from ${min} to ${max}, not '${raw}'`);
  }
  return n;
}
