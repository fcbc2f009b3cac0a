/**
 * The built-in operators. Adding an operator is one file in operators/ plus
 * one line here; the registry itself lives in the engine (engine/registry.ts).
 */
import type { OperatorDef } from '../engine/interfaces.js';
import { OperatorRegistry } from '../engine/registry.js';
import { Empty } from './empty.js';
import { Sql } from './sql.js';
import { StageToRedshift } from './stage-to-redshift.js';
import { LoadFact } from './load-fact.js';
import { LoadDimension } from './load-dimension.js';
import { DataQuality } from './data-quality.js';
import { CreateCluster } from './create-cluster.js';
import { DeleteCluster } from './delete-cluster.js';
import { Shell } from './shell.js';
import { FunctionOperator } from './function.js';
import { Branch } from './branch.js';
import { Http } from './http/http.js';
import { HttpSensor } from './http/http-sensor.js';
import { LakeKeySensor } from './sensors/lake-key.js';
import { SqlSensor } from './sensors/sql-sensor.js';
import { TimeDeltaSensor, TimeSensor } from './sensors/time-sensors.js';
import { ExternalRunSensor } from './sensors/external-run.js';

export const builtinOperators: OperatorDef[] = [
  Empty,
  Sql,
  StageToRedshift,
  LoadFact,
  LoadDimension,
  DataQuality,
  CreateCluster,
  DeleteCluster,
  Shell,
  FunctionOperator,
  Branch,
  Http,
  HttpSensor,
  LakeKeySensor,
  SqlSensor,
  TimeDeltaSensor,
  TimeSensor,
  ExternalRunSensor,
];

/** A registry holding the built-in operators. */
export function defaultRegistry(): OperatorRegistry {
  return new OperatorRegistry(builtinOperators);
}
