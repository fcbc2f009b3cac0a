/**
 * Child process of bench/load.ts: stages one lake's events into a fresh
 * warehouse and prints one JSON line with the row count, the time and this
 * process's peak RSS, before and after the load (so the memory of N/10 and
 * N rows can be compared).
 *
 *   node --import tsx bench/load-child.ts <lake folder> <warehouse url>
 */
import { readFileSync } from 'node:fs';
import { openWarehouse } from '../engine/connections/index.js';
import { eventsSpec, mb, resetStaging } from './load-shared.js';

/**
 * This process's peak RSS in kB. getrusage's maxRSS survives execve on Linux,
 * so a child spawned by a big parent would report the parent's peak: use
 * VmHWM (reset by exec) when /proc is there.
 */
function peakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

const [lake, url] = process.argv.slice(2);
if (!lake || !url) {
  process.stderr.write('usage: load-child.ts <lake folder> <warehouse url>\n');
  process.exit(2);
}
const wh = await openWarehouse(url, { home: process.cwd() });
try {
  await resetStaging(wh);
  const before = mb(peakRssKb());
  const t = performance.now();
  const res = await wh.loadJson(eventsSpec(lake));
  const ms = performance.now() - t;
  process.stdout.write(`${JSON.stringify({ rows: res.rows, ms, rssBeforeMB: before, maxRssMB: mb(peakRssKb()) })}\n`);
} finally {
  await wh.close();
}
