/**
 * TimeDeltaSensor and TimeSensor: wait for a moment relative to the run's
 * data interval, as Airflow's sensors of the same names. They poke at their
 * poke_interval but wake up exactly at their target.
 */
import { z } from 'zod';
import { formatDuration } from '../../engine/duration.js';
import { canonicalTimeZone, wallTime, zonedTimeToUtc } from '../../engine/dag/time.js';
import { defineOperator, duration } from '../../engine/operator.js';
import { pokeUntil, SENSOR_PARAMS } from './poke.js';

/** Pokes until `target`; records it. */
async function waitUntil(ctx: Parameters<typeof pokeUntil>[0], target: Date, what: string): Promise<void> {
  const at = target.toISOString();
  await pokeUntil(ctx, `${what} (${at})`, async () => {
    const left = target.getTime() - Date.now();
    if (left <= 0) return { done: true, outputs: { target: at } };
    return { done: false, seen: `${formatDuration(left)} to go`, retryAt: target };
  });
}

export const TimeDeltaSensor = defineOperator({
  name: 'TimeDeltaSensor',
  description: "Waits until the run's data_interval_end plus a delta (Airflow TimeDeltaSensor)",
  params: z
    .object({
      delta: duration.describe("how long after the end of the run's data interval to wait, e.g. 2h (0: its end)"),
      ...SENSOR_PARAMS,
    })
    .strict(),
  async execute(ctx) {
    const target = new Date(ctx.dataIntervalEnd.getTime() + ctx.params.delta);
    await waitUntil(ctx, target, `data_interval_end + ${formatDuration(ctx.params.delta)}`);
  },
});

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

export const TimeSensor = defineOperator({
  name: 'TimeSensor',
  description: "Waits until a time of day on the date the run's data interval ends (Airflow TimeSensor)",
  params: z
    .object({
      target_time: z
        .string()
        .regex(TIME_OF_DAY, { message: 'must be a time of day HH:MM or HH:MM:SS (24 h), e.g. 06:30' })
        .describe("time of day to wait for, HH:MM[:SS], on the date of the run's data_interval_end, e.g. 06:30"),
      timezone: z
        .string()
        .default('UTC')
        .refine((tz) => canonicalTimeZone(tz) !== null, { message: 'must be an IANA timezone, e.g. Europe/Berlin' })
        .describe('IANA timezone target_time is read in, e.g. Europe/Berlin (default UTC)'),
      ...SENSOR_PARAMS,
    })
    .strict(),
  async execute(ctx) {
    const { target_time, timezone } = ctx.params;
    const [, hh, mm, ss] = TIME_OF_DAY.exec(target_time)!;
    const day = wallTime(ctx.dataIntervalEnd, timezone);
    const target = zonedTimeToUtc(timezone, day.year, day.month, day.day, Number(hh), Number(mm), Number(ss ?? 0));
    await waitUntil(ctx, target, `${target_time} ${timezone}`);
  },
});
