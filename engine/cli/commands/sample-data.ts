/** `sluice sample-data`: a synthetic Sparkify lake. */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { humanMs } from '../format.js';
import { action, type CliContext, examples } from './kit.js';

export function register(program: Command, ctx: CliContext): void {
  const sample = program
    .command('sample-data')
    .description('write a synthetic Sparkify lake (song files and daily event logs in the real formats)')
    .option('--out <dir>', 'folder to write (default: the lake folder under SLUICE_HOME)')
    .option('--days <n>', 'days of event logs', '30')
    .option('--events-per-day <n>', 'events in each day file', '300')
    .option('--songs <n>', 'song files', '200')
    .option('--seed <n>', 'random seed (same seed, same bytes)', '42')
    .option('--start-date <date>', 'first day of events', '2018-11-01')
    .option('--gzip', 'gzip every file (.json.gz)')
    .option('--clean', 'replace song_data/ and log_data/ if the folder has them')
    .addHelpText(
      'after',
      examples([
        'sluice sample-data',
        'sluice sample-data --out /tmp/lake --days 30 --events-per-day 100000 --songs 5000 --seed 7',
      ]),
    );
  action(ctx, sample, async (app, o: Record<string, string | boolean | undefined>) => {
    const num = (k: string) => {
      const n = Number(o[k]);
      if (!Number.isInteger(n) || n < 0)
        throw new UsageError(`--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} must be a whole number, not '${o[k]}'`);
      return n;
    };
    const out = path.resolve(typeof o.out === 'string' ? o.out : path.join(app.config.home, 'lake'));
    const started = Date.now();
    const { generateSampleLake } = await import('../../../sample/generate.js');
    const res = await generateSampleLake({
      out,
      days: num('days'),
      eventsPerDay: num('eventsPerDay'),
      songs: num('songs'),
      seed: num('seed'),
      startDate: String(o.startDate),
      gzip: Boolean(o.gzip),
      clean: Boolean(o.clean),
    }).catch((err: Error) => {
      throw err instanceof RangeError || /exist/.test(err.message)
        ? new UsageError(err.message.replace('pass clean', 'pass --clean'))
        : err;
    });
    process.stdout.write(
      `wrote ${out}: ${res.songFiles} song files, ${res.eventFiles} event files, ${res.events} events ` +
        `(${res.nextSongEvents} NextSong, ${res.matchingPlays} matching a song) in ${humanMs(Date.now() - started)}\n`,
    );
  });
}
