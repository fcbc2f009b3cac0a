/**
 * The PGlite worker thread: opens the database named in workerData and
 * serves the warehouse's requests (pglite-worker-core.ts) one at a time, in
 * the order they arrive, so the main thread's event loop stays free while
 * PGlite runs a statement or a COPY.
 *
 * Started by pglite.ts (as pglite-worker.js from dist/, or as this .ts file
 * under tsx with the tsx loader passed on). Not meant to be run directly.
 */
import v8 from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import {
  PgliteEngine,
  PGLITE_V8_FLAGS,
  toWireError,
  type PgliteWorkerData,
  type RawResult,
  type WorkerReply,
  type WorkerRequest,
} from './pglite-worker-core.js';

// Before PGlite compiles its module (see PGLITE_V8_FLAGS).
v8.setFlagsFromString(PGLITE_V8_FLAGS);

const port = parentPort;
if (!port) throw new Error('pglite-worker is a worker thread script (started by the PGlite warehouse)');
const send = (msg: WorkerReply) => port.postMessage(msg);
const { dataDir } = workerData as PgliteWorkerData;

let engine: PgliteEngine;
try {
  engine = await PgliteEngine.open(dataDir);
} catch (err) {
  send({ type: 'open-failed', error: toWireError(err) });
  process.exit(1); // in a worker: ends this thread only
}

async function serve(req: WorkerRequest): Promise<RawResult | undefined> {
  switch (req.op) {
    case 'query':
      return engine.query(req.sql, req.params);
    case 'copy':
      await engine.copyFrom(req.sql, new Uint8Array(req.data, req.offset, req.length));
      return undefined;
    case 'begin':
      return void (await engine.begin());
    case 'commit':
      return void (await engine.commit());
    case 'rollback':
      return void (await engine.rollback());
    case 'close':
      return void (await engine.close());
    case 'crash':
      return undefined; // handled on receipt
  }
}

let queue: Promise<void> = Promise.resolve();
port.on('message', (req: WorkerRequest) => {
  if (req.op === 'crash') throw new Error('simulated PGlite worker crash (test hook)');
  queue = queue.then(async () => {
    try {
      const result = await serve(req);
      send({ type: 'reply', id: req.id, ok: true, result });
    } catch (err) {
      const error = toWireError(err);
      send({ type: 'reply', id: req.id, ok: false, error });
      // A WASM abort leaves PGlite unusable: end the thread so every later call fails fast.
      if (error.fatal) process.exit(1);
    }
  });
});
send({ type: 'ready' });
