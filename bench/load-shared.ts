/**
 * Shared pieces of the staging benchmark (bench/load.ts) and its child
 * process (bench/load-child.ts): the staging_events table and the load spec.
 */
import { LocalObjectStore } from '../engine/connections/index.js';
import type { JsonLoadSpec, Warehouse } from '../engine/interfaces.js';
import { EVENT_KEYS } from '../sample/generate.js';

/** staging_events as sql/create_tables.sql has it (types that matter: ts bigint, userid varchar, doubles). */
export const STAGING_EVENTS_DDL = `CREATE TABLE IF NOT EXISTS staging_events (
  artist varchar(1024), auth varchar(32), firstname varchar(256), gender varchar(16), iteminsession integer,
  lastname varchar(256), length double precision, level varchar(16), location varchar(1024), method varchar(16),
  page varchar(64), registration double precision, sessionid integer, song varchar(1024), status integer,
  ts bigint, useragent varchar(2048), userid varchar(64))`;

export const STAGING_EVENTS_COLUMNS =
  '(artist, auth, firstname, gender, iteminsession, lastname, length, level, location, method, page, registration, sessionid, song, status, ts, useragent, userid)';

/** The JSONPaths of /work/shared/data/sparkify/log_json_path.json: the 18 event keys in column order. */
export const EVENT_JSONPATHS = EVENT_KEYS.map((k) => `$['${k}']`);

/** Staging the lake's events the way the DAG does: jsonpaths + epochmillisecs, MAXERROR 0. */
export function eventsSpec(lake: string): JsonLoadSpec {
  return {
    table: 'staging_events',
    store: new LocalObjectStore(lake),
    source: 'log_data/',
    mapping: { kind: 'jsonpaths', paths: EVENT_JSONPATHS, file: 'log_json_path.json' },
    timeformat: 'epochmillisecs',
    maxerror: 0,
  };
}

/** A fresh, empty staging_events. */
export async function resetStaging(wh: Warehouse): Promise<void> {
  await wh.query(`DROP TABLE IF EXISTS staging_events; ${STAGING_EVENTS_DDL}`);
}

export const mb = (kb: number) => Math.round(kb / 1024);
