/**
 * Expected star-schema contents computed straight from the Sparkify JSON
 * files with plain JavaScript: no SQL, so the pipeline's SQL is checked
 * against an independent reading of the data.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The real data, beside the project (../shared/data/sparkify); SLUICE_SPARKIFY_DIR overrides it. */
export const SPARKIFY_DIR = path.resolve(
  process.env.SLUICE_SPARKIFY_DIR ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/sparkify'),
);

interface Event {
  artist: string | null;
  firstName: string | null;
  gender: string | null;
  itemInSession: number;
  lastName: string | null;
  length: number | null;
  level: string;
  page: string;
  sessionId: number;
  song: string | null;
  ts: number;
  userId: string;
}

interface Song {
  song_id: string;
  artist_id: string;
  title: string;
  artist_name: string;
  duration: number;
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]))
    .sort();
}

export function sparkifyAvailable(): boolean {
  return fs.existsSync(path.join(SPARKIFY_DIR, 'log_data')) && fs.existsSync(path.join(SPARKIFY_DIR, 'song_data'));
}

function readEvents(file: string): Event[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Event);
}

export function readSongs(): Song[] {
  return filesUnder(path.join(SPARKIFY_DIR, 'song_data')).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as Song);
}

/** The events of one day's file (YYYY-MM-DD), or of every file. */
export function readDayEvents(day?: string): Event[] {
  const files = filesUnder(path.join(SPARKIFY_DIR, 'log_data'));
  return files.filter((f) => !day || path.basename(f) === `${day}-events.json`).flatMap(readEvents);
}

export interface Expected {
  events: number;
  nextSong: number;
  songplays: number;
  /** distinct start times of the plays (ms) */
  times: number;
  /** distinct non-empty userIds of all events */
  users: number;
  /** userId -> level of their latest event */
  latestLevel: Map<string, string>;
  songs: number;
  artists: number;
  /** plays whose title + artist + duration match a song */
  matched: { userId: string; ts: number; song_id: string; artist_id: string }[];
}

/** What the pipeline should produce from these events (and all the songs). */
export function expectedFor(events: Event[]): Expected {
  const songs = readSongs();
  const plays = events.filter((e) => e.page === 'NextSong');
  const latest = new Map<string, Event>();
  for (const e of events) {
    if (!e.userId) continue;
    const cur = latest.get(e.userId);
    const later =
      !cur ||
      e.ts > cur.ts ||
      (e.ts === cur.ts &&
        (e.sessionId > cur.sessionId || (e.sessionId === cur.sessionId && e.itemInSession > cur.itemInSession)));
    if (later) latest.set(e.userId, e);
  }
  const matched = plays.flatMap((e) => {
    const s = songs
      .filter((x) => x.title === e.song && x.artist_name === e.artist && x.duration === e.length)
      .sort((a, b) => (a.song_id < b.song_id ? -1 : 1))[0];
    return s ? [{ userId: e.userId, ts: e.ts, song_id: s.song_id, artist_id: s.artist_id }] : [];
  });
  return {
    events: events.length,
    nextSong: plays.length,
    songplays: plays.length,
    times: new Set(plays.map((e) => e.ts)).size,
    users: latest.size,
    latestLevel: new Map([...latest].map(([id, e]) => [id, e.level])),
    songs: new Set(songs.map((s) => s.song_id)).size,
    artists: new Set(songs.map((s) => s.artist_id)).size,
    matched,
  };
}
