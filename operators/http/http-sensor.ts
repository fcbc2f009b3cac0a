/**
 * HttpSensor: pokes an HTTP endpoint until it answers with an expected
 * status (and, with response_path, a truthy value there), as Airflow's
 * HttpSensor. A 404, a 408/425/429, a 5xx or a connection failure means "not
 * yet"; any other status fails the task.
 */
import { z } from 'zod';
import { TaskFailure } from '../../engine/errors.js';
import { defineOperator } from '../../engine/operator.js';
import { pokeUntil, SENSOR_PARAMS } from '../sensors/poke.js';
import { isTruthyCell } from '../sensors/sql-sensor.js';
import { isExpected, jsonPath, ONE_BASE, prepareRequest, REQUEST_PARAMS, responseJson, send } from './request.js';
import { statusFailure } from './http.js';

const NOT_YET = new Set([404, 408, 425, 429]);

export const HttpSensor = defineOperator({
  name: 'HttpSensor',
  description: 'Waits until an HTTP endpoint answers with an expected status (Airflow HttpSensor)',
  params: z
    .object({
      ...REQUEST_PARAMS,
      response_path: REQUEST_PARAMS.response_path.describe(
        'a JSON path into the response that must be truthy (not false, 0, "" or null), e.g. $.status.ready; recorded as return_value',
      ),
      ...SENSOR_PARAMS,
    })
    .strict()
    .refine(ONE_BASE.check, { message: ONE_BASE.message }),
  templated: ['base_url', 'endpoint', 'query', 'headers', 'body'],
  async execute(ctx) {
    const { params, signal } = ctx;
    const req = await prepareRequest(ctx);
    await pokeUntil(ctx, req.shown, async () => {
      let res;
      try {
        res = await send(req, signal);
      } catch (err) {
        if (signal.aborted || !(err instanceof TaskFailure)) throw err;
        return { done: false, seen: err.message };
      }
      if (isExpected(res.status, params.expected_status)) {
        if (params.response_path === undefined) return { done: true, outputs: { status_code: res.status } };
        let value: unknown;
        try {
          value = jsonPath(responseJson(res, req.shown), params.response_path, req.shown);
        } catch (err) {
          // Not there yet (a job still running answers without its result): poke again.
          if (err instanceof TaskFailure && err.retryable) return { done: false, seen: err.message };
          throw err;
        }
        if (isTruthyCell(value)) return { done: true, outputs: { status_code: res.status, return_value: value } };
        return { done: false, seen: `HTTP ${res.status}, ${params.response_path} is ${JSON.stringify(value)}` };
      }
      if (NOT_YET.has(res.status) || res.status >= 500) return { done: false, seen: `HTTP ${res.status}` };
      throw statusFailure(res.status, req.shown, res.text, params.expected_status);
    });
  },
});
