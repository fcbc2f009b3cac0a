/**
 * The operator registry: the only place the engine learns about operators.
 * Adding an operator is one file in operators/ plus one line here.
 */
import type { OperatorDef } from '../engine/interfaces.js';
import { Empty } from './empty.js';
import { Sql } from './sql.js';
import { StageToRedshift } from './stage_to_redshift.js';
import { LoadFact } from './load_fact.js';
import { LoadDimension } from './load_dimension.js';
import { DataQuality } from './data_quality.js';
import { CreateCluster } from './create_cluster.js';
import { DeleteCluster } from './delete_cluster.js';

export const builtinOperators: OperatorDef[] = [
  Empty,
  Sql,
  StageToRedshift,
  LoadFact,
  LoadDimension,
  DataQuality,
  CreateCluster,
  DeleteCluster,
];

export class OperatorRegistry {
  private readonly byName = new Map<string, OperatorDef>();

  constructor(ops: Iterable<OperatorDef> = builtinOperators) {
    for (const op of ops) this.register(op);
  }

  /** Adds an operator (tests register their own). A name already taken is an error. */
  register(op: OperatorDef): this {
    if (this.byName.has(op.name)) throw new Error(`operator ${op.name} is registered twice`);
    this.byName.set(op.name, op);
    return this;
  }

  get(name: string): OperatorDef | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  all(): OperatorDef[] {
    return [...this.byName.values()];
  }
}

export function defaultRegistry(): OperatorRegistry {
  return new OperatorRegistry();
}
