/**
 * SQL both state stores share for pools (engine/state/sqlite/pools.ts,
 * engine/state/postgres/pools.ts): which task instances hold slots.
 */

/**
 * Whether a task instance holds its pool's slots: taken for its next try
 * (queued, pool_try one past its try number) or held by its running try
 * (pool_try its try number). A try that ended, a task instance cleared or
 * reset, or one whose try started without the pool holds none. `t` is the
 * table's alias, if any ('t.').
 */
export const holdsSlots = (t = '') =>
  `((${t}state = 'queued' AND ${t}pool_try = ${t}try_number + 1) OR (${t}state = 'running' AND ${t}pool_try = ${t}try_number))`;
