import { defineOperator } from '../engine/operator.js';
import { deleteClusterParams, resolveTarget, type DeleteClusterParams } from './aws/params.js';

export type { DeleteClusterParams };

/** Deletes the Redshift cluster (final snapshot optional) and, when asked, its IAM role. Nothing to delete on a local warehouse. */
export const DeleteCluster = defineOperator({
  name: 'DeleteCluster',
  description:
    'Deletes the Redshift cluster (final snapshot optional) and optionally its IAM role; forgets the recorded connection',
  params: deleteClusterParams,
  templated: ['target'],
  connectionParam: 'connection',
  async execute(ctx) {
    const p = ctx.params;
    if (resolveTarget(ctx, p.target, p.connection) === 'local') {
      ctx.log.info({ connection: p.connection }, 'local warehouse: no AWS cluster to delete; local data is kept');
      ctx.record({ target: 'local', deleted_cluster: false });
      return;
    }
    // The AWS SDK is loaded only now, when a task really talks to AWS.
    await (await import('./aws/cluster.js')).deleteOnAws(ctx);
  },
});
