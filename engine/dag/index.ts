/** DAG files: load, validate, describe. */
export { loadDagFile, loadDagSource, loadDagsDir, TASK_DEFAULTS, type LoadOptions } from './load.js';
export { dagJsonSchema } from './schema.js';
export { renderDag, type RenderFormat } from './render.js';
export { downstreamOf, findCycles, topoOrder } from './graph.js';
