/**
 * The operator registry and plugin loading. The engine knows operators only
 * through this registry; it knows no built-in operator (those are listed in
 * operators/index.ts, and the composition root, engine/cli/app.ts, puts the
 * two together).
 */
import { pathToFileURL } from 'node:url';
import { ConfigError } from './errors.js';
import type { OperatorDef } from './interfaces.js';
import { isOperatorDef } from './operator.js';

export class OperatorRegistry {
  private readonly byName = new Map<string, OperatorDef>();

  constructor(ops: Iterable<OperatorDef> = []) {
    for (const op of ops) this.register(op);
  }

  /** Adds an operator. A name already taken is an error. */
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

/** Registers the operators (made with defineOperator) each plugin module exports. */
export async function loadPlugins(registry: OperatorRegistry, modules: string[]): Promise<void> {
  for (const file of modules) {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`plugin ${file} could not be loaded: ${(err as Error).message}`, { cause: err });
    }
    const ops = Object.values(mod).filter(isOperatorDef);
    if (ops.length === 0) throw new ConfigError(`plugin ${file} exports no operator (made with defineOperator)`);
    for (const op of ops) registry.register(op);
  }
}
