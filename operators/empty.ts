import { z } from 'zod';
import { defineOperator } from '../engine/operator.js';

/** Does nothing: a join point or a placeholder, like Airflow's EmptyOperator. */
export const Empty = defineOperator({
  name: 'Empty',
  description: 'Does nothing; a join point or placeholder (Airflow EmptyOperator)',
  params: z.object({}).strict(),
  async execute() {},
});
