/**
 * What the Http operator and the HttpSensor share: the request parameters,
 * building the request (a connection's URL + endpoint, headers with secrets
 * read from environment variables, a JSON body), sending it with Node's
 * fetch on the try's AbortSignal, and JSON paths into the response.
 */
import { z } from 'zod';
import { TaskFailure, TemplateError, errorMessage } from '../../engine/errors.js';
import type { TaskContext } from '../../engine/interfaces.js';
import { registerSecret } from '../../engine/redact.js';

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD'] as const;

const NOT_RETRIED = { retryable: false, notRetriedBecause: 'the task parameters need fixing' };

/** The request parameters (spread into each operator's own `z.object({...}).strict()`). */
export const REQUEST_PARAMS = {
  http_connection: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a connection name (lowercase letters, digits and _)' })
    .optional()
    .describe(
      'name of the connection whose URL is the API base, e.g. reports_api (connections: ' +
        '{reports_api: "https://api.example.com/v1"}); or give base_url',
    ),
  base_url: z
    .string()
    .regex(/^https?:\/\//i, { message: 'must be an http:// or https:// URL' })
    .optional()
    .describe('the API base URL when no connection names it, e.g. https://api.example.com/v1 (a Liquid template)'),
  endpoint: z.string().default('').describe('path after the base URL, e.g. reports/{{ ds }} (a Liquid template)'),
  method: z.enum(METHODS).default('GET').describe('HTTP method (default GET)'),
  query: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .describe('query string parameters, e.g. {date: "{{ ds }}"} (Liquid templates)'),
  headers: z
    .record(z.string(), z.string())
    .optional()
    .describe('request headers, e.g. {Accept: application/json} (Liquid templates); never put secrets here'),
  headers_env: z
    .record(z.string(), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'must be an environment variable name' }))
    .optional()
    .describe(
      'headers whose values are read from environment variables when the task runs, e.g. {Authorization: API_TOKEN}: ' +
        'the secret stays out of the DAG file and is masked in logs',
    ),
  body: z
    .unknown()
    .optional()
    .describe('a JSON body (any YAML value; strings inside it are Liquid templates); sent as application/json'),
  expected_status: z
    .array(z.number().int().min(100).max(599))
    .min(1)
    .optional()
    .describe('status codes that count as success, e.g. [200, 201] (default: any 2xx)'),
  response_path: z
    .string()
    .min(1)
    .optional()
    .describe('a JSON path into the response recorded as return_value, e.g. $.data.id or items[0].name'),
};

export interface RequestParams {
  http_connection?: string | undefined;
  base_url?: string | undefined;
  endpoint: string;
  method: (typeof METHODS)[number];
  query?: Record<string, string | number | boolean> | undefined;
  headers?: Record<string, string> | undefined;
  headers_env?: Record<string, string> | undefined;
  body?: unknown;
  expected_status?: number[] | undefined;
  response_path?: string | undefined;
}

/** Exactly one of connection and base_url (a refinement of each operator's schema). */
export const ONE_BASE = {
  check: (p: { http_connection?: string; base_url?: string }) => (p.http_connection === undefined) !== (p.base_url === undefined),
  message: 'give exactly one of http_connection (a connection name) and base_url',
};

export interface PreparedRequest {
  url: string;
  init: RequestInit;
  /** `METHOD url`, for messages (the URL holds no secret: secrets travel in headers_env). */
  shown: string;
}

/** The request a task's parameters describe. */
export async function prepareRequest(ctx: TaskContext<RequestParams>): Promise<PreparedRequest> {
  const p = ctx.params;
  const base = p.http_connection !== undefined ? await connectionUrl(ctx, p.http_connection) : p.base_url!;
  let url: URL;
  try {
    url = new URL(joinUrl(base, p.endpoint));
  } catch {
    throw new TaskFailure(`not a valid URL: ${joinUrl(base, p.endpoint)} (from the base URL and endpoint)`, NOT_RETRIED);
  }
  for (const [k, v] of Object.entries(p.query ?? {})) url.searchParams.append(k, String(v));
  const headers = new Headers();
  for (const [k, v] of Object.entries(p.headers ?? {})) headers.set(k, v);
  for (const [header, variable] of Object.entries(p.headers_env ?? {})) {
    const value = process.env[variable];
    if (value === undefined || value === '') {
      throw new TaskFailure(
        `header ${header}: environment variable ${variable} is not set; set it in the environment Sluice runs in`,
        { retryable: false, notRetriedBecause: `${variable} is not set` },
      );
    }
    registerSecret(value);
    registerSecret(value.split(/\s+/).pop());
    headers.set(header, value);
  }
  let body: string | undefined;
  if (p.body !== undefined) {
    if (p.method === 'GET' || p.method === 'HEAD') {
      throw new TaskFailure(`a ${p.method} request has no body: use method: POST (or PUT, PATCH)`, NOT_RETRIED);
    }
    body = JSON.stringify(p.body);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  return { url: url.href, init: { method: p.method, headers, body }, shown: `${p.method} ${url.href}` };
}

/** A connection's URL (as templates see it: without secrets); it must be http(s). */
async function connectionUrl(ctx: TaskContext<unknown>, name: string): Promise<string> {
  let url: string;
  try {
    url = await ctx.render(`{{ conn.${name} }}`, 'http_connection');
  } catch (err) {
    if (err instanceof TemplateError) {
      throw new TaskFailure(
        `unknown connection '${name}': add it under connections: in the config file (e.g. ${name}: https://api.example.com) ` +
          `or set SLUICE_CONN_${name.toUpperCase()}`,
        { retryable: false, notRetriedBecause: 'the connection is not configured', cause: err },
      );
    }
    throw err;
  }
  if (!/^https?:\/\//i.test(url)) {
    throw new TaskFailure(`connection '${name}' is ${url}, not an http:// or https:// URL`, NOT_RETRIED);
  }
  if (/^https?:\/\/[^/@]*:\*\*\*@/i.test(url)) {
    throw new TaskFailure(
      `connection '${name}' holds a password in its URL, which is never sent: put credentials in headers_env ` +
        '(e.g. {Authorization: API_TOKEN}) and remove them from the URL',
      NOT_RETRIED,
    );
  }
  return url;
}

function joinUrl(base: string, endpoint: string): string {
  if (!endpoint) return base;
  return `${base.replace(/\/+$/, '')}/${endpoint.replace(/^\/+/, '')}`;
}

export interface HttpResponseData {
  status: number;
  headers: Headers;
  text: string;
}

/**
 * Sends the request once. A network failure (refused, reset, DNS) is a
 * retryable TaskFailure naming the URL; an abort rejects with its reason.
 */
export async function send(req: PreparedRequest, signal: AbortSignal): Promise<HttpResponseData> {
  let res: Response;
  try {
    res = await fetch(req.url, { ...req.init, signal });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text };
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : null;
    const code = (cause as { code?: string } | null)?.code;
    throw new TaskFailure(`${req.shown} failed: ${cause ? errorMessage(cause) : errorMessage(err)}${code ? ` (${code})` : ''}`, {
      cause: err,
    });
  }
}

/** Whether a status is a success for these parameters (default: 2xx). */
export function isExpected(status: number, expected: number[] | undefined): boolean {
  return expected ? expected.includes(status) : status >= 200 && status < 300;
}

/** The start of a response body, for a message. */
export function bodyPreview(text: string, max = 500): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** The response parsed as JSON, or a TaskFailure that shows its start. */
export function responseJson(res: HttpResponseData, shown: string): unknown {
  try {
    return JSON.parse(res.text) as unknown;
  } catch {
    const type = res.headers.get('content-type') ?? 'no content-type';
    throw new TaskFailure(`${shown}: the response is not JSON (${type}): ${bodyPreview(res.text, 200) || '(empty)'}`);
  }
}

/**
 * The value at a JSON path: `$.a.b[0].c`, `a.b.0.c` or `$["a key"]`. A step
 * that finds nothing is a TaskFailure naming the step and what is there.
 */
export function jsonPath(value: unknown, pathText: string, shown: string): unknown {
  const steps = parsePath(pathText);
  let cur: unknown = value;
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    const at = `$${steps
      .slice(0, i)
      .map((s) => (typeof s === 'number' ? `[${s}]` : `.${s}`))
      .join('')}`;
    if (Array.isArray(cur) && /^\d+$/.test(String(step))) {
      const idx = Number(step);
      if (idx >= cur.length) {
        throw new TaskFailure(`${shown}: response_path ${pathText}: ${at} has ${cur.length} items, no [${idx}]`);
      }
      cur = cur[idx];
    } else if (cur && typeof cur === 'object' && !Array.isArray(cur) && Object.hasOwn(cur, String(step))) {
      cur = (cur as Record<string, unknown>)[String(step)];
    } else {
      const there =
        cur && typeof cur === 'object'
          ? Array.isArray(cur)
            ? `a list of ${cur.length}`
            : `an object with keys ${Object.keys(cur).slice(0, 20).join(', ') || '(none)'}`
          : JSON.stringify(cur);
      throw new TaskFailure(`${shown}: response_path ${pathText}: no '${step}' at ${at} (there: ${there})`);
    }
  }
  return cur;
}

function parsePath(text: string): (string | number)[] {
  const steps: (string | number)[] = [];
  let rest = text.trim().replace(/^\$/, '');
  const re = /^(?:\.?([^.[\]]+)|\[(\d+)\]|\[["']([^"']*)["']\])/;
  while (rest) {
    const m = re.exec(rest);
    if (!m) throw new TaskFailure(`response_path ${text} is not a JSON path (e.g. $.data.items[0].id)`, NOT_RETRIED);
    steps.push(m[2] !== undefined ? Number(m[2]) : (m[1] ?? m[3])!);
    rest = rest.slice(m[0].length);
  }
  return steps;
}

/**
 * What a Retry-After header asks for, in ms: delta-seconds or an HTTP date;
 * null when absent or unreadable.
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}
