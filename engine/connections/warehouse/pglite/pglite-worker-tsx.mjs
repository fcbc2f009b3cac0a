// Entry of the PGlite worker thread when Sluice runs from its TypeScript
// sources under tsx (tests, `node --import tsx`, the tsx CLI): registers tsx in
// this thread, then loads pglite-worker.ts. On Node 20 a worker does not apply
// the inherited `--import tsx` hooks to its own entry file, hence this file.
// From dist/ the compiled pglite-worker.js is started directly instead.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./pglite-worker.ts', import.meta.url).href);
