#!/usr/bin/env node
/**
 * `npm start`: the zero-set-up demo. On first use it writes a synthetic
 * Sparkify lake (the local `lake` connection), then runs the songplays DAG
 * for one day on the configured warehouse (embedded PGlite by default) and
 * prints the run summary and the data quality report.
 *
 * Extra arguments go to run-dag, e.g. `npm start -- --date 2018-11-05`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { parseConnectionUrl } from '../connections/index.js';
import { generateSampleLake } from '../../sample/generate.js';
import { exitWhenFlushed, main } from './main.js';

const DEMO_DATE = '2018-11-21';

async function ensureSampleLake(): Promise<void> {
  const config = loadConfig();
  const lakeUrl = config.envConnections.lake ?? config.connections.lake;
  if (!lakeUrl) return;
  const lake = parseConnectionUrl(lakeUrl, { home: config.home });
  if (lake.kind !== 'local') return; // a real lake: use what is there
  if (fs.existsSync(path.join(lake.root, 'song_data')) || fs.existsSync(path.join(lake.root, 'log_data'))) return;
  process.stdout.write(`writing a sample Sparkify lake to ${lake.root} (first run only)...\n`);
  const r = await generateSampleLake({ out: lake.root, days: 30, eventsPerDay: 400, songs: 300, seed: 42 });
  process.stdout.write(`  ${r.songFiles} song files, ${r.eventFiles} daily event logs, ${r.events} events\n\n`);
}

await ensureSampleLake();
const args = process.argv.slice(2);
const hasDate = args.includes('--date');
const code = await main(['run-dag', 'songplays', ...(hasDate ? [] : ['--date', DEMO_DATE]), '--rerun', ...args]);
if (code === 0 || code === 1) {
  process.stdout.write('\n');
  const dateIdx = args.indexOf('--date');
  await main(['report', 'songplays', '--date', dateIdx >= 0 ? args[dateIdx + 1]! : DEMO_DATE]);
  process.stdout.write(`\nlook around: npx sluice sql "SELECT level, count(*) FROM users GROUP BY level"\n`);
}
exitWhenFlushed(code);
