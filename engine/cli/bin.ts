#!/usr/bin/env node
/**
 * The `sluice` command as the bundled CLI starts it (scripts/build.mjs makes
 * dist/engine/cli/main.js from this file). main.ts runs itself when it is
 * the entry point, but in the bundle its code sits in a chunk shared with
 * run-dag and start, so the bundle's entry is this file.
 */
import { exitWhenFlushed, main } from './main.js';

main(process.argv.slice(2)).then(exitWhenFlushed);
