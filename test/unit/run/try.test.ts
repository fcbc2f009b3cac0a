/**
 * One try's template dialect: the operator names the parameter that holds its
 * warehouse connection (connectionParam), and the connection resolver says
 * that connection's dialect from its URL. A parameter merely called
 * `connection` decides nothing by its name.
 */
import { expect } from 'chai';
import { z } from 'zod';
import { createConnectionResolver } from '../../../engine/connections/index.js';
import { defineOperator } from '../../../engine/operator.js';
import { builtinOperators } from '../../../operators/index.js';
import { harness } from '../../helpers/engine.js';

/** Records its rendered `message` (a template); `conn` / `connection` name connections. */
function echoOp(name: string, connectionParam?: 'conn' | 'connection') {
  return defineOperator({
    name,
    description: 'test: records its templated message',
    params: z.object({ message: z.string(), conn: z.string().optional(), connection: z.string().optional() }).strict(),
    templated: ['message'],
    connectionParam,
    async execute({ params, record }) {
      record({ message: params.message });
    },
  });
}

describe('one try: the dialect of its templates', () => {
  it("comes from the parameter the operator declares as its connection, by default the warehouse's", async () => {
    const connections = createConnectionResolver(
      { warehouse: 'pglite://memory', rs: 'redshift://etl@cluster.example:5439/dwh?password_env=X' },
      { home: '/nonexistent' },
    );
    const h = harness({ connections });
    try {
      h.registry.register(echoOp('EchoConn', 'conn'));
      h.registry.register(echoOp('EchoUndeclared'));
      const dag = h.dag(`
dag: dialects
params: { v: 'a\\b' }
tasks:
  declared: { operator: EchoConn, message: "{{ dialect }} {{ params.v | sql_literal }}", conn: rs }
  declared_default: { operator: EchoConn, message: "{{ dialect }} {{ params.v | sql_literal }}" }
  by_name_only: { operator: EchoUndeclared, message: "{{ dialect }}", connection: rs }
  unknown_connection: { operator: EchoConn, message: "{{ dialect }}", conn: nope }
`);
      const { runId, state } = await h.run(dag);
      expect(state).to.equal('success');
      const out = async (task: string) => h.store.tasks.outputs((await h.store.tasks.tries(runId, task))[0]!.tryId);
      expect(await out('declared')).to.deep.equal({ message: String.raw`redshift 'a\\b'` });
      expect(await out('declared_default')).to.deep.equal({ message: String.raw`postgres E'a\\b'` });
      // a parameter named `connection` that the operator does not declare: the warehouse's dialect
      expect(await out('by_name_only')).to.deep.equal({ message: 'postgres' });
      // an unknown connection renders as postgres; the task fails on it only when it opens it
      expect(await out('unknown_connection')).to.deep.equal({ message: 'postgres' });
    } finally {
      h.close();
    }
  });

  it('every built-in operator with a `connection` parameter declares it as its connection', () => {
    const withConnection = builtinOperators.filter((op) => 'connection' in ((op.params as unknown as z.ZodObject).shape ?? {}));
    expect(withConnection.map((op) => op.name)).to.include.members([
      'Sql',
      'StageToRedshift',
      'LoadFact',
      'LoadDimension',
      'DataQuality',
    ]);
    for (const op of withConnection) expect(op.connectionParam, op.name).to.equal('connection');
    for (const op of builtinOperators.filter((o) => !withConnection.includes(o)))
      expect(op.connectionParam, op.name).to.equal(undefined);
  });
});
