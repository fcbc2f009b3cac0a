#!/usr/bin/env node
/** `run-dag <dag_id> …`: the same as `sluice run-dag <dag_id> …`. */
import { main } from './main.js';

main(['run-dag', ...process.argv.slice(2)]).then((code) => process.exit(code));
