/**
 * The synthetic Sparkify lake generator.
 *
 * Writes, under `out`:
 * - `song_data/A/B/C/TR................json` — one song per file, one line,
 *   no trailing newline, keys and number/escape formatting exactly as in the
 *   real Million Song Dataset subset (non-ASCII text as `\uXXXX` escapes of
 *   correct Unicode, as Python's `json.dumps` wrote them);
 * - `log_data/YYYY/MM/YYYY-MM-DD-events.json` — one event per line, sorted by
 *   `ts`, lines separated by `\n` and, like every real file, NO newline after
 *   the last line (an empty day is an empty file);
 * - `log_json_path.json` — the JSONPaths file for `staging_events`.
 * With `gzip: true` every song and event file is gzipped and named `.json.gz`.
 *
 * Output is a pure function of the options: the same options give the same
 * bytes (gzip included, for a given Node/zlib build). Songs depend only on
 * `seed` and `songs`, users on `seed`, `users` and `startDate`. Event files
 * are streamed with backpressure; memory grows with `songs` and `users`, not
 * with `days * eventsPerDay`.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { join } from 'node:path';
import { createGzip, gzip as gzipCb } from 'node:zlib';
import { promisify } from 'node:util';
import type { Writable } from 'node:stream';
import { EventSimulator, EVENT_KEYS, generateUsers } from './events.js';
import { formatSong, generateSongs, songPath } from './songs.js';

export { formatSong, generateSongs, matchKey, songPath, SONG_KEYS } from './songs.js';
export type { GeneratedSong, SongRecord } from './songs.js';
export { EVENT_KEYS, EventSimulator, formatEvent, generateUsers, PAGE_HTTP, LOGGED_OUT_PAGES } from './events.js';
export type { Level, Page, SparkifyEvent, User } from './events.js';
export { Rng } from './prng.js';

const gzipAsync = promisify(gzipCb);

export interface SampleLakeOptions {
  /** Folder to write into (created if missing). */
  out: string;
  /** Number of days of event logs, starting at `startDate`. */
  days: number;
  /** Events per day file, exactly. */
  eventsPerDay: number;
  /** Number of song files. */
  songs: number;
  seed: number;
  /** First day, `YYYY-MM-DD` (UTC). Default `2018-11-01`. */
  startDate?: string;
  /** Number of distinct users. Default `eventsPerDay / 3`, at least 10, at most 10,000. */
  users?: number;
  /** Gzip every song and event file (`.json.gz`). Default false. */
  gzip?: boolean;
  /** Share of NextSong events that match a song on title + artist + duration. Default 0.03. */
  matchRate?: number;
  /**
   * Share of NextSong events that almost match one (same title and artist with
   * another duration, another artist, or an upper-cased title). Default 0.005,
   * at most `1 - matchRate`.
   */
  nearMissRate?: number;
  /** Remove existing `song_data/` and `log_data/` under `out` first. Default false (then they must not exist). */
  clean?: boolean;
  /** Song files written at the same time. Default 32. */
  concurrency?: number;
  /** Called after each day file is closed. */
  onDay?: (day: { date: string; file: string; events: number }) => void;
}

export interface SampleLakeResult {
  songFiles: number;
  eventFiles: number;
  events: number;
  nextSongEvents: number;
  /** NextSong events whose (song, artist, length) equals a song's (title, artist_name, duration). */
  matchingPlays: number;
  /** Bytes written on disk, all files included (`log_json_path.json` too). */
  bytes: number;
}

const DAY_MS = 86_400_000;
const CHUNK = 1 << 16;

/** `log_data/2018/11/2018-11-01-events.json` for a UTC day start. */
export function eventFilePath(dayStartMs: number, gzip = false): string {
  const iso = new Date(dayStartMs).toISOString().slice(0, 10);
  return `log_data/${iso.slice(0, 4)}/${iso.slice(5, 7)}/${iso}-events.json${gzip ? '.gz' : ''}`;
}

/** The Redshift JSONPaths file for `staging_events` (the 18 event keys in column order). */
export function logJsonPaths(): string {
  return `{\n    "jsonpaths": [\n${EVENT_KEYS.map((k) => `        "$['${k}']"`).join(',\n')}\n    ]\n}\n`;
}

function checkCount(name: string, v: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${v}`);
}

function parseStartDate(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== s) {
    throw new RangeError(`startDate must be a date like 2018-11-01, got ${JSON.stringify(s)}`);
  }
  return ms;
}

async function exists(dir: string): Promise<boolean> {
  try {
    await readdir(dir);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

export async function generateSampleLake(opts: SampleLakeOptions): Promise<SampleLakeResult> {
  checkCount('days', opts.days, 100_000);
  checkCount('eventsPerDay', opts.eventsPerDay);
  checkCount('songs', opts.songs, 10_000_000);
  const start = parseStartDate(opts.startDate ?? '2018-11-01');
  const users = opts.users ?? Math.min(10_000, Math.max(10, Math.ceil(opts.eventsPerDay / 3)));
  checkCount('users', users, 10_000_000);
  if (users < 1) throw new RangeError('users must be at least 1');
  const matchRate = opts.matchRate ?? 0.03;
  const nearMissRate = Math.min(opts.nearMissRate ?? 0.005, 1 - matchRate);
  if (!(matchRate >= 0 && matchRate <= 1 && nearMissRate >= 0)) {
    throw new RangeError('matchRate and nearMissRate must be shares from 0 to 1');
  }
  const gz = opts.gzip ?? false;
  const concurrency = Math.max(1, opts.concurrency ?? 32);

  for (const part of ['song_data', 'log_data']) {
    const dir = join(opts.out, part);
    if (opts.clean) await rm(dir, { recursive: true, force: true });
    else if (await exists(dir)) {
      throw new Error(`${dir} already exists: choose an empty folder, or pass clean to replace it`);
    }
  }
  await mkdir(opts.out, { recursive: true });

  let bytes = 0;
  const paths = Buffer.from(logJsonPaths());
  await writeFile(join(opts.out, 'log_json_path.json'), paths);
  bytes += paths.length;

  // Songs: many small files, a bounded number in flight.
  const songs = generateSongs(opts.seed, opts.songs);
  const dirs = new Map<string, Promise<unknown>>();
  let nextSong = 0;
  const worker = async (): Promise<void> => {
    while (nextSong < songs.length) {
      const song = songs[nextSong++]!;
      const rel = songPath(song.track_id, gz);
      const dir = join(opts.out, rel.slice(0, rel.lastIndexOf('/')));
      let made = dirs.get(dir);
      if (!made) dirs.set(dir, (made = mkdir(dir, { recursive: true })));
      const text = Buffer.from(formatSong(song));
      const data = gz ? await gzipAsync(text) : text;
      await made;
      await writeFile(join(opts.out, rel), data);
      bytes += data.length;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, songs.length) }, worker));

  // Events: one streamed file per day.
  const sim = new EventSimulator({ seed: opts.seed, matchRate, nearMissRate }, songs, generateUsers(opts.seed, users, start));
  for (let d = 0; d < opts.days; d++) {
    const dayStart = start + d * DAY_MS;
    const rel = eventFilePath(dayStart, gz);
    const file = join(opts.out, rel);
    await mkdir(join(file, '..'), { recursive: true });
    const before = sim.counts.events;
    bytes += await writeLines(file, gz, sim.day(d, dayStart, opts.eventsPerDay));
    opts.onDay?.({ date: rel.slice(17, 27), file, events: sim.counts.events - before });
  }

  return {
    songFiles: songs.length,
    eventFiles: opts.days,
    events: sim.counts.events,
    nextSongEvents: sim.counts.nextSongEvents,
    matchingPlays: sim.counts.matchingPlays,
    bytes,
  };
}

/**
 * Streams `lines` to `file`, `\n` between lines and none after the last,
 * in chunks of 64 KiB, waiting for 'drain' whenever the stream is full.
 * Lines are ASCII (every other character is `\u`-escaped), so they are
 * copied into the chunk as Latin-1. Returns the bytes written to disk.
 */
async function writeLines(file: string, gzip: boolean, lines: Iterable<string>): Promise<number> {
  const out = createWriteStream(file, { highWaterMark: 1 << 20 });
  const sink: Writable = gzip ? createGzip() : out;
  if (gzip) sink.pipe(out);
  const failed = new Promise<never>((_, reject) => {
    out.once('error', reject);
    sink.once('error', reject);
  });
  failed.catch(() => undefined);
  try {
    let chunk = Buffer.allocUnsafe(CHUNK);
    let used = 0;
    let first = true;
    const flush = async (): Promise<void> => {
      const ok = sink.write(chunk.subarray(0, used));
      chunk = Buffer.allocUnsafe(CHUNK);
      used = 0;
      if (!ok) await Promise.race([once(sink, 'drain'), failed]);
    };
    for (const line of lines) {
      if (used + line.length + 1 > CHUNK) {
        await flush();
        if (line.length + 1 > CHUNK) chunk = Buffer.allocUnsafe(line.length + 1);
      }
      if (!first) chunk[used++] = 0x0a;
      first = false;
      used += chunk.write(line, used, 'latin1');
    }
    if (used > 0) await flush();
    sink.end();
    await Promise.race([finished(out), failed]);
  } catch (err) {
    sink.destroy();
    out.destroy();
    throw err;
  }
  return out.bytesWritten;
}
