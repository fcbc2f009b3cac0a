/**
 * Http: one HTTP request to an API, as Airflow's HttpOperator: a
 * connection's URL + endpoint, headers with secrets from environment
 * variables, a templated JSON body, the expected status codes, and a JSON
 * path of the response recorded as the task's output. A 429 or 503 that
 * says Retry-After is waited for and sent again within the try.
 */
import { z } from 'zod';
import { formatDuration } from '../../engine/duration.js';
import { TaskFailure } from '../../engine/errors.js';
import { defineOperator, duration } from '../../engine/operator.js';
import { sleep } from '../sensors/poke.js';
import {
  bodyPreview,
  isExpected,
  jsonPath,
  ONE_BASE,
  prepareRequest,
  REQUEST_PARAMS,
  responseJson,
  retryAfterMs,
  send,
} from './request.js';

/** Statuses that say "come back later" (with Retry-After, they are retried within the try). */
const RETRY_AFTER_STATUSES = new Set([429, 503]);

export const Http = defineOperator({
  name: 'Http',
  description: 'Sends an HTTP request; checks its status, records a JSON path of the response (Airflow HttpOperator)',
  params: z
    .object({
      ...REQUEST_PARAMS,
      max_retries: z
        .number()
        .int()
        .min(0)
        .default(3)
        .describe('how many times a 429/503 response with Retry-After is waited for and sent again within the try'),
      max_retry_wait: duration
        .default(300_000)
        .describe('the longest Retry-After honoured (e.g. 5m); a longer one fails the try (task retries apply)'),
    })
    .strict()
    .refine(ONE_BASE.check, { message: ONE_BASE.message }),
  templated: ['base_url', 'endpoint', 'query', 'headers', 'body'],
  async execute(ctx) {
    const { params, log, signal } = ctx;
    const req = await prepareRequest(ctx);
    for (let attempt = 0; ; attempt++) {
      const res = await send(req, signal);
      log.info({ status: res.status, bytes: res.text.length }, `${req.shown}: HTTP ${res.status}`);
      if (isExpected(res.status, params.expected_status)) {
        const outputs: Record<string, unknown> = { status_code: res.status };
        if (params.response_path !== undefined) {
          outputs.return_value = jsonPath(responseJson(res, req.shown), params.response_path, req.shown);
        }
        ctx.record(outputs);
        return;
      }
      const wait = RETRY_AFTER_STATUSES.has(res.status) ? retryAfterMs(res.headers.get('retry-after')) : null;
      if (wait !== null && attempt < params.max_retries) {
        if (wait > params.max_retry_wait) {
          throw new TaskFailure(
            `${req.shown}: HTTP ${res.status} with Retry-After ${formatDuration(wait)}, more than max_retry_wait ` +
              `(${formatDuration(params.max_retry_wait)}): raise max_retry_wait, or let the task's retries come back later`,
          );
        }
        log.warn(
          { status: res.status, retry_after_ms: wait },
          `HTTP ${res.status}, Retry-After ${formatDuration(wait)}: sending again then (retry ${attempt + 1} of ${params.max_retries})`,
        );
        await sleep(wait, signal);
        continue;
      }
      throw statusFailure(res.status, req.shown, res.text, params.expected_status);
    }
  },
});

/**
 * The failure of an unexpected status. A 4xx (but 408, 425, 429) is not
 * retried: the same request gets the same answer; a 5xx or a 429 is.
 */
export function statusFailure(status: number, shown: string, text: string, expected: number[] | undefined): TaskFailure {
  const want = expected ? expected.join(', ') : '2xx';
  const preview = bodyPreview(text);
  const clientError = status >= 400 && status < 500 && ![408, 425, 429].includes(status);
  return new TaskFailure(
    `${shown}: HTTP ${status} (expected ${want})${preview ? `: ${preview}` : ''}`,
    clientError ? { retryable: false, notRetriedBecause: `the server refused the request (HTTP ${status})` } : undefined,
  );
}
