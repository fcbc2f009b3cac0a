/**
 * Song metadata in the shape of the Million Song Dataset subset that
 * Sparkify ships as `song_data/`: one JSON object per file, one line, no
 * trailing newline, keys in a fixed order.
 */
import { Rng } from './prng.js';
import { pyFloat, songJsonString } from './format.js';
import {
  ARTIST_FIRST,
  ARTIST_LAST,
  ARTIST_PLACES,
  BAND_ADJ,
  BAND_NOUN,
  FEAT_JOINERS,
  FOREIGN_TITLES,
  LOOSE_PLACES,
  TITLE_SUFFIXES,
  TITLE_WORDS,
} from './words.js';

/** The keys of a song file, in the order the real files write them. */
export const SONG_KEYS = [
  'num_songs',
  'artist_id',
  'artist_latitude',
  'artist_longitude',
  'artist_location',
  'artist_name',
  'song_id',
  'title',
  'duration',
  'year',
] as const;

export interface SongRecord {
  num_songs: number;
  artist_id: string;
  artist_latitude: number | null;
  artist_longitude: number | null;
  artist_location: string;
  artist_name: string;
  song_id: string;
  title: string;
  duration: number;
  year: number;
}

/** A generated song and the track id that names its file. */
export interface GeneratedSong extends SongRecord {
  track_id: string;
}

/**
 * One song file's exact content, as Python's `json.dumps` wrote the real ones:
 * `{"num_songs": 1, "artist_id": "AR...", ...}` with no trailing newline.
 */
export function formatSong(song: SongRecord): string {
  const num = (x: number | null): string => (x === null ? 'null' : pyFloat(x));
  return (
    '{"num_songs": ' +
    String(song.num_songs) +
    ', "artist_id": ' +
    songJsonString(song.artist_id) +
    ', "artist_latitude": ' +
    num(song.artist_latitude) +
    ', "artist_longitude": ' +
    num(song.artist_longitude) +
    ', "artist_location": ' +
    songJsonString(song.artist_location) +
    ', "artist_name": ' +
    songJsonString(song.artist_name) +
    ', "song_id": ' +
    songJsonString(song.song_id) +
    ', "title": ' +
    songJsonString(song.title) +
    ', "duration": ' +
    pyFloat(song.duration) +
    ', "year": ' +
    String(song.year) +
    '}'
  );
}

/**
 * Where a track's file lives: `song_data/A/B/C/TRABCxx....json`, the three
 * folders being the 3rd, 4th and 5th characters of the track id.
 */
export function songPath(trackId: string, gzip = false): string {
  if (!/^TR[A-Z]{5}[0-9A-F]{11}$/.test(trackId)) throw new RangeError(`not a track id: ${trackId}`);
  return `song_data/${trackId[2]}/${trackId[3]}/${trackId[4]}/${trackId}.json${gzip ? '.gz' : ''}`;
}

/** The key a songplay join uses: title + artist name + duration. */
export function matchKey(title: string, artist: string, duration: number): string {
  return title + '\u0000' + artist + '\u0000' + pyFloat(duration);
}

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const HEXUP = '0123456789ABCDEF';

function chars(rng: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[rng.int(alphabet.length)];
  return s;
}

/** `prefix` + 5 characters + an 11-character hex tail starting like the real ids. */
function msdId(rng: Rng, prefix: string, head: string, tails: readonly string[]): string {
  const tail = rng.pick(tails);
  return prefix + chars(rng, head, 5) + tail + chars(rng, HEXUP, 11 - tail.length);
}

const TRACK_TAILS = ['128F9', '128F4', '12903', '128E0', '12A8C', '12AB0', '128F93'];
const SONG_TAILS = ['12A8C', '12AB0', '12A6D', '12AF7', '12A58', '12AB01'];
const ARTIST_TAILS = ['1187B', '1187F', '1187FB', '11C8A', '122988F', '1269FB', '11F4C'];

export function trackId(rng: Rng): string {
  return msdId(rng, 'TR', LETTERS, TRACK_TAILS);
}
export function songId(rng: Rng): string {
  return msdId(rng, 'SO', LETTERS, SONG_TAILS);
}
export function artistId(rng: Rng): string {
  return msdId(rng, 'AR', ALNUM, ARTIST_TAILS);
}

/** An artist name: a person, a band, a collaboration, sometimes with accents. */
export function artistName(rng: Rng): string {
  const r = rng.next();
  const person = (): string => `${rng.pick(ARTIST_FIRST)} ${rng.pick(ARTIST_LAST)}`;
  const band = (): string => `${rng.chance(0.4) ? 'The ' : ''}${rng.pick(BAND_ADJ)} ${rng.pick(BAND_NOUN)}`;
  if (r < 0.38) return person();
  if (r < 0.72) return band();
  if (r < 0.8) return `${rng.pick(ARTIST_LAST)} ${rng.pick(['Trio', 'Quartet', 'Band', 'Sound System', 'Ensemble'])}`;
  if (r < 0.88) return `DJ ${rng.pick(TITLE_WORDS)}${rng.pick(['', ' ' + rng.pick(ARTIST_LAST)])}`;
  const a = rng.chance(0.5) ? person() : band();
  return a + rng.pick(FEAT_JOINERS) + person();
}

/** A title: English words, an occasional foreign title, sometimes a version suffix. */
export function songTitle(rng: Rng): string {
  let title: string;
  if (rng.chance(0.07)) {
    title = rng.pick(FOREIGN_TITLES);
    if (rng.chance(0.5)) title += ` ${rng.pick(TITLE_WORDS)}`;
  } else {
    const n = rng.weighted([2, 4, 3, 1], 10) + 1;
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(rng.pick(TITLE_WORDS));
    if (n > 2 && rng.chance(0.5)) words.splice(1, 0, rng.pick(['of', 'in', 'the', 'and', 'to', 'on']));
    title = words.join(' ');
  }
  if (rng.chance(0.25)) title += rng.pick(TITLE_SUFFIXES);
  return title;
}

/** A duration in seconds with 5 decimals, mostly 2-6 minutes. */
export function songDuration(rng: Rng): number {
  const base = 20 + (rng.next() + rng.next() + rng.next()) * 150 + (rng.chance(0.05) ? rng.next() * 600 : 0);
  return Math.round(base * 100000) / 100000;
}

interface Artist {
  id: string;
  name: string;
  latitude: number | null;
  longitude: number | null;
  location: string;
}

function newArtist(rng: Rng, ids: Set<string>): Artist {
  let id = artistId(rng);
  while (ids.has(id)) id = artistId(rng);
  ids.add(id);
  const r = rng.next();
  let latitude: number | null = null;
  let longitude: number | null = null;
  let location = '';
  if (r < 0.44) {
    const [place, lat, long] = rng.pick(ARTIST_PLACES);
    latitude = Math.round((lat + (rng.next() - 0.5) * 0.2) * 100000) / 100000;
    longitude = Math.round((long + (rng.next() - 0.5) * 0.2) * 100000) / 100000;
    location = place;
  } else if (r < 0.61) {
    location = rng.pick(LOOSE_PLACES);
  }
  return { id, name: artistName(rng), latitude, longitude, location };
}

/**
 * `count` songs for `seed`. About one song in eight is by an artist that
 * already has one, ~60% have year 0, ~55% null coordinates, ~40% an empty
 * location. Track ids, song ids, artist ids and the (title, artist name,
 * duration) triples are all unique, so a play matches at most one song.
 */
export function generateSongs(seed: number, count: number): GeneratedSong[] {
  const rng = new Rng(seed, 1);
  const artists: Artist[] = [];
  const artistIds = new Set<string>();
  const trackIds = new Set<string>();
  const songIds = new Set<string>();
  const keys = new Set<string>();
  const songs: GeneratedSong[] = [];
  for (let i = 0; i < count; i++) {
    let artist: Artist;
    if (artists.length > 0 && rng.chance(0.12)) {
      artist = artists[rng.skewed(artists.length, 2)] as Artist;
    } else {
      artist = newArtist(rng, artistIds);
      artists.push(artist);
    }
    let track = trackId(rng);
    while (trackIds.has(track)) track = trackId(rng);
    trackIds.add(track);
    let sid = songId(rng);
    while (songIds.has(sid)) sid = songId(rng);
    songIds.add(sid);
    const title = songTitle(rng);
    let duration = songDuration(rng);
    while (keys.has(matchKey(title, artist.name, duration))) duration = songDuration(rng);
    keys.add(matchKey(title, artist.name, duration));
    const year = rng.chance(0.6) ? 0 : 2010 - rng.skewed(56, 2);
    songs.push({
      track_id: track,
      num_songs: 1,
      artist_id: artist.id,
      artist_latitude: artist.latitude,
      artist_longitude: artist.longitude,
      artist_location: artist.location,
      artist_name: artist.name,
      song_id: sid,
      title,
      duration,
      year,
    });
  }
  return songs;
}
