#!/usr/bin/env node
/** `run-dag <dag_id> …`: the same as `sluice run-dag <dag_id> …`. */
import { exitWhenFlushed, main } from './main.js';

main(['run-dag', ...process.argv.slice(2)]).then(exitWhenFlushed);
