#!/usr/bin/env node
/**
 * `npm start`: the zero-set-up demo. Runs the example DAG for its last
 * complete day on the embedded defaults and prints the summary.
 */
import { main } from './main.js';

const code = await main(['run-dag', 'example', ...process.argv.slice(2)]);
process.exit(code);
