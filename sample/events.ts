/**
 * Sparkify user-activity events in the shape of the real `log_data/` files:
 * one JSON object per line, keys in a fixed order, lines sorted by `ts`,
 * sessions interleaved, logged-out stretches around Logout/Login, level
 * changes through Submit Upgrade / Submit Downgrade.
 */
import { Rng } from './prng.js';
import { isNonAscii, logJsonString, mojibake, pyFloat } from './format.js';
import { artistName, matchKey, songDuration, songTitle, type GeneratedSong } from './songs.js';
import { FEMALE_NAMES, LAST_NAMES, MALE_NAMES, USER_AGENTS, USER_LOCATIONS, quoteUserAgent } from './words.js';

/** The keys of an event line, in the order the real files write them. */
export const EVENT_KEYS = [
  'artist',
  'auth',
  'firstName',
  'gender',
  'itemInSession',
  'lastName',
  'length',
  'level',
  'location',
  'method',
  'page',
  'registration',
  'sessionId',
  'song',
  'status',
  'ts',
  'userAgent',
  'userId',
] as const;

export type Page =
  | 'NextSong'
  | 'Home'
  | 'Login'
  | 'Logout'
  | 'Downgrade'
  | 'Settings'
  | 'Help'
  | 'About'
  | 'Upgrade'
  | 'Save Settings'
  | 'Error'
  | 'Submit Upgrade'
  | 'Submit Downgrade';

export type Level = 'free' | 'paid';

export interface SparkifyEvent {
  artist: string | null;
  auth: 'Logged In' | 'Logged Out';
  firstName: string | null;
  gender: 'M' | 'F' | null;
  itemInSession: number;
  lastName: string | null;
  length: number | null;
  level: Level;
  location: string | null;
  method: 'GET' | 'PUT';
  page: Page;
  /** Epoch milliseconds, written as a float (`1540919166796.0`); null when logged out. */
  registration: number | null;
  sessionId: number;
  song: string | null;
  status: 200 | 307 | 404;
  /** Epoch milliseconds. */
  ts: number;
  userAgent: string | null;
  /** A string; "" when logged out. */
  userId: string;
}

/** Method and status per page, as in the real logs. */
export const PAGE_HTTP: Readonly<Record<Page, { method: 'GET' | 'PUT'; status: 200 | 307 | 404 }>> = {
  NextSong: { method: 'PUT', status: 200 },
  Home: { method: 'GET', status: 200 },
  Login: { method: 'PUT', status: 307 },
  Logout: { method: 'PUT', status: 307 },
  Downgrade: { method: 'GET', status: 200 },
  Settings: { method: 'GET', status: 200 },
  Help: { method: 'GET', status: 200 },
  About: { method: 'GET', status: 200 },
  Upgrade: { method: 'GET', status: 200 },
  'Save Settings': { method: 'PUT', status: 307 },
  Error: { method: 'GET', status: 404 },
  'Submit Upgrade': { method: 'PUT', status: 307 },
  'Submit Downgrade': { method: 'PUT', status: 307 },
};

/** Pages a logged-out visitor can see. */
export const LOGGED_OUT_PAGES: readonly Page[] = ['Home', 'Login', 'About', 'Help'];

/** One event line exactly as the real files write it (no newline). */
export function formatEvent(e: SparkifyEvent): string {
  const str = (s: string | null): string => (s === null ? 'null' : logJsonString(s));
  const num = (x: number | null): string => (x === null ? 'null' : pyFloat(x));
  return (
    '{"artist":' +
    str(e.artist) +
    ',"auth":' +
    str(e.auth) +
    ',"firstName":' +
    str(e.firstName) +
    ',"gender":' +
    str(e.gender) +
    ',"itemInSession":' +
    String(e.itemInSession) +
    ',"lastName":' +
    str(e.lastName) +
    ',"length":' +
    num(e.length) +
    ',"level":' +
    str(e.level) +
    ',"location":' +
    str(e.location) +
    ',"method":' +
    str(e.method) +
    ',"page":' +
    str(e.page) +
    ',"registration":' +
    num(e.registration) +
    ',"sessionId":' +
    String(e.sessionId) +
    ',"song":' +
    str(e.song) +
    ',"status":' +
    String(e.status) +
    ',"ts":' +
    String(e.ts) +
    ',"userAgent":' +
    str(e.userAgent) +
    ',"userId":' +
    str(e.userId) +
    '}'
  );
}

/** Every `ts` and `registration` in the real logs ends in 796 ms; so do ours. */
export const MS_SUFFIX = 796;

export interface User {
  userId: string;
  firstName: string;
  lastName: string;
  gender: 'M' | 'F';
  location: string;
  /** As written in the logs: wrapped in literal quotes when it contains a comma. */
  userAgent: string;
  registration: number;
  level: Level;
  /** Pre-encoded line fragments (see `lineFor`). */
  readonly seg: { auth: string; last: string; loc: string; reg: string; tail: string };
}

const LOGGED_OUT_SEG = {
  auth: ',"auth":"Logged Out","firstName":null,"gender":null,"itemInSession":',
  last: ',"lastName":null,"length":',
  loc: ',"location":null,"method":"',
  reg: ',"registration":null,"sessionId":',
  tail: ',"userAgent":null,"userId":""}',
};

/**
 * `count` users with string ids "1".."count" (in shuffled order of activity),
 * registered in the 60 days before `startMs`. Sessions pick users skewed towards
 * low indexes; about 3/4 of events end up on the paid level, as in the real logs.
 */
export function generateUsers(seed: number, count: number, startMs: number): User[] {
  const rng = new Rng(seed, 3);
  const users: User[] = [];
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = ids[i] as number;
    ids[i] = ids[j] as number;
    ids[j] = t;
  }
  for (let i = 0; i < count; i++) {
    const gender = rng.chance(0.5) ? 'F' : 'M';
    const firstName = rng.pick(gender === 'F' ? FEMALE_NAMES : MALE_NAMES);
    const lastName = rng.pick(LAST_NAMES);
    const location = rng.pick(USER_LOCATIONS);
    const userAgent = quoteUserAgent(USER_AGENTS[rng.skewed(USER_AGENTS.length, 1.6)] as string);
    const registration = startMs - 86_400_000 - rng.int(60 * 86_400) * 1000 + MS_SUFFIX;
    const userId = String(ids[i]);
    users.push({
      userId,
      firstName,
      lastName,
      gender,
      location,
      userAgent,
      registration,
      // The most active quarter of users (sessions pick low indexes more often) is mostly paid.
      level: rng.chance(i < count / 4 ? 0.9 : 0.5) ? 'paid' : 'free',
      seg: {
        auth: flat(`,"auth":"Logged In","firstName":${logJsonString(firstName)},"gender":"${gender}","itemInSession":`),
        last: flat(`,"lastName":${logJsonString(lastName)},"length":`),
        loc: flat(`,"location":${logJsonString(location)},"method":"`),
        reg: flat(`,"registration":${pyFloat(registration)},"sessionId":`),
        tail: flat(`,"userAgent":${logJsonString(userAgent)},"userId":${logJsonString(userId)}}`),
      },
    });
  }
  return users;
}

/** A song as played: plain strings plus their encoded forms. */
interface Play {
  artist: string;
  song: string;
  length: number;
  enc: { artist: string; song: string; length: string };
}

function play(artist: string, song: string, length: number): Play {
  const enc = { artist: flat(logJsonString(artist)), song: flat(logJsonString(song)), length: flat(pyFloat(length)) };
  return { artist, song, length, enc };
}

/**
 * A flat one-byte copy of an ASCII string. Line fragments are concatenated
 * millions of times; flat fragments keep each line's final flattening cheap.
 */
function flat(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

/**
 * The wider catalogue users listen to, of which `song_data` holds none: no
 * entry matches a generated song on (title, artist, duration). As in the real
 * logs, about half of the entries with non-ASCII text carry double-encoded
 * mojibake.
 */
function buildCatalogue(seed: number, size: number, keys: ReadonlySet<string>): Play[] {
  const rng = new Rng(seed, 2);
  const out: Play[] = [];
  while (out.length < size) {
    let artist = artistName(rng);
    let title = songTitle(rng);
    const length = songDuration(rng);
    if (keys.has(matchKey(title, artist, length))) continue;
    if ((isNonAscii(artist) || isNonAscii(title)) && rng.chance(0.5)) {
      artist = mojibake(artist);
      title = mojibake(title);
    }
    out.push(play(artist, title, length));
  }
  return out;
}

// Page choice for a logged-in user with nothing queued: weights per level.
const FREE_PAGES: readonly Page[] = ['NextSong', 'Home', 'Logout', 'Settings', 'Help', 'About', 'Error', 'Upgrade'];
const FREE_WEIGHTS = [89.0, 4.5, 1.15, 0.72, 0.5, 0.3, 0.12, 1.1];
const PAID_PAGES: readonly Page[] = ['NextSong', 'Home', 'Logout', 'Settings', 'Help', 'About', 'Error', 'Downgrade'];
const PAID_WEIGHTS = [89.0, 4.5, 1.15, 0.72, 0.5, 0.3, 0.12, 0.95];
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const FREE_TOTAL = sum(FREE_WEIGHTS);
const PAID_TOTAL = sum(PAID_WEIGHTS);

const PAGE_SEG = Object.fromEntries(
  (Object.keys(PAGE_HTTP) as Page[]).map((p) => [p, flat(`${PAGE_HTTP[p].method}","page":"${p}"`)]),
) as Record<Page, string>;

interface Step {
  page: Page;
  loggedIn: boolean;
}

interface Session {
  seq: number;
  id: number;
  user: User;
  remaining: number;
  item: number;
  sec: number;
  queue: Step[];
}

export interface EventOptions {
  seed: number;
  /** Share of NextSong events that match a generated song exactly. */
  matchRate: number;
  /** Share of NextSong events that nearly match one (same title, other artist or duration). */
  nearMissRate: number;
}

export interface EventCounts {
  events: number;
  nextSongEvents: number;
  matchingPlays: number;
}

/** Generates the event lines of successive days; keeps user levels and session ids across days. */
export class EventSimulator {
  readonly counts: EventCounts = { events: 0, nextSongEvents: 0, matchingPlays: 0 };
  private readonly songPlays: (Play | undefined)[];
  private readonly keys: Set<string>;
  private readonly catalogue: Play[];
  private nextSessionId: number;

  constructor(
    private readonly opts: EventOptions,
    private readonly songs: readonly GeneratedSong[],
    private readonly users: readonly User[],
  ) {
    if (users.length === 0) throw new RangeError('at least one user is needed');
    this.keys = new Set(songs.map((s) => matchKey(s.title, s.artist_name, s.duration)));
    this.songPlays = new Array<Play | undefined>(songs.length);
    const size = Math.min(30_000, Math.max(2_000, songs.length * 3));
    this.catalogue = buildCatalogue(opts.seed, size, this.keys);
    this.nextSessionId = 1 + new Rng(opts.seed, 4).int(100);
  }

  /**
   * The `count` lines of one day, sorted by `ts` (ties keep session order),
   * every `ts` within `[dayStartMs, dayStartMs + 86_400_000)`.
   */
  *day(dayIndex: number, dayStartMs: number, count: number): Generator<string, void, undefined> {
    const rng = new Rng(this.opts.seed, 1000 + dayIndex);
    // Plan sessions: length L (exact total = count) and a start second that leaves room for it.
    const plan: number[] = [];
    let planned = 0;
    while (planned < count) {
      const len = Math.min(150, 1 + Math.floor(rng.exponential(9)), count - planned);
      planned += len;
      const start = rng.int(Math.max(1, 86_400 - len * 200));
      plan.push(start * 256 + len);
    }
    const starts = Float64Array.from(plan).sort();
    const heap: Session[] = [];
    let next = 0;
    let seq = 0;
    while (next < starts.length || heap.length > 0) {
      while (
        next < starts.length &&
        (heap.length === 0 || Math.floor((starts[next] as number) / 256) <= (heap[0] as Session).sec)
      ) {
        const packed = starts[next++] as number;
        const s: Session = {
          seq: seq++,
          id: this.nextSessionId++,
          user: this.users[rng.skewed(this.users.length, 2)] as User,
          remaining: packed % 256,
          item: 0,
          sec: Math.floor(packed / 256),
          queue: [],
        };
        this.openSession(rng, s);
        heapPush(heap, s);
      }
      const s = heap[0] as Session;
      yield this.step(rng, s, dayStartMs);
      if (s.remaining > 0) heapReplaceTop(heap, s);
      else heapPop(heap);
    }
  }

  private openSession(rng: Rng, s: Session): void {
    if (rng.chance(0.05)) {
      s.queue.push({ page: 'Home', loggedIn: false });
      if (rng.chance(0.2)) s.queue.push({ page: rng.chance(0.6) ? 'About' : 'Help', loggedIn: false });
      s.queue.push({ page: 'Login', loggedIn: false }, { page: 'Home', loggedIn: true });
    } else if (rng.chance(0.4)) {
      s.queue.push({ page: 'Home', loggedIn: true });
    }
  }

  /** Emits the session's next event and moves its clock and state on. */
  private step(rng: Rng, s: Session, dayStartMs: number): string {
    const u = s.user;
    let page: Page;
    let loggedIn = true;
    const queued = s.queue.shift();
    if (queued) {
      page = queued.page;
      loggedIn = queued.loggedIn;
      // Another session of the same user may have changed the level meanwhile.
      if (page === 'Submit Upgrade' && u.level === 'paid') page = 'Home';
      if (page === 'Submit Downgrade' && u.level === 'free') page = 'Home';
    } else if (u.level === 'free') {
      page = FREE_PAGES[rng.weighted(FREE_WEIGHTS, FREE_TOTAL)] as Page;
    } else {
      page = PAID_PAGES[rng.weighted(PAID_WEIGHTS, PAID_TOTAL)] as Page;
    }

    const level = u.level;
    let p: Play | null = null;
    if (page === 'NextSong') {
      p = this.pickPlay(rng);
      this.counts.nextSongEvents++;
    }
    const seg = loggedIn ? u.seg : LOGGED_OUT_SEG;
    const ts = dayStartMs + s.sec * 1000 + MS_SUFFIX;
    const line =
      '{"artist":' +
      (p ? p.enc.artist : 'null') +
      seg.auth +
      s.item +
      seg.last +
      (p ? p.enc.length : 'null') +
      ',"level":"' +
      level +
      '"' +
      seg.loc +
      PAGE_SEG[page] +
      seg.reg +
      s.id +
      ',"song":' +
      (p ? p.enc.song : 'null') +
      ',"status":' +
      PAGE_HTTP[page].status +
      ',"ts":' +
      ts +
      seg.tail;
    this.counts.events++;
    s.item++;
    s.remaining--;

    // What follows.
    switch (page) {
      case 'Logout':
        if (rng.chance(0.92)) s.queue.push({ page: 'Home', loggedIn: false });
        if (rng.chance(0.12)) s.queue.push({ page: rng.chance(0.6) ? 'About' : 'Help', loggedIn: false });
        // A visitor who logs out near the end of the session leaves; the others log back in.
        if (s.remaining > s.queue.length) s.queue.push({ page: 'Login', loggedIn: false }, { page: 'Home', loggedIn: true });
        break;
      case 'Upgrade':
        if (rng.chance(0.38)) s.queue.push({ page: 'Submit Upgrade', loggedIn: true });
        break;
      case 'Downgrade':
        if (rng.chance(0.03)) s.queue.push({ page: 'Submit Downgrade', loggedIn: true });
        break;
      case 'Submit Upgrade':
        u.level = 'paid';
        s.queue.push({ page: 'Home', loggedIn: true });
        break;
      case 'Submit Downgrade':
        u.level = 'free';
        s.queue.push({ page: 'Home', loggedIn: true });
        break;
      case 'Settings':
        if (rng.chance(0.18)) s.queue.push({ page: 'Save Settings', loggedIn: true });
        break;
      default:
        break;
    }
    const gap = p ? Math.floor(p.length) + (rng.chance(0.2) ? rng.int(3) : 0) : Math.floor(rng.exponential(20));
    s.sec = Math.min(86_399, s.sec + gap);
    return line;
  }

  private pickPlay(rng: Rng): Play {
    const r = rng.next();
    const n = this.songs.length;
    if (n > 0 && r < this.opts.matchRate) {
      const i = rng.skewed(n, 1.5);
      let cached = this.songPlays[i];
      if (!cached) {
        const song = this.songs[i] as GeneratedSong;
        cached = this.songPlays[i] = play(song.artist_name, song.title, song.duration);
      }
      this.counts.matchingPlays++;
      return cached;
    }
    if (n > 0 && r < this.opts.matchRate + this.opts.nearMissRate) {
      const song = this.songs[rng.int(n)] as GeneratedSong;
      const v = rng.int(3);
      const artist = v === 1 ? artistName(rng) : song.artist_name;
      const title = v === 2 ? song.title.toUpperCase() : song.title;
      const length = v === 0 ? Math.round((song.duration + 0.00001 + rng.int(200) / 100) * 100000) / 100000 : song.duration;
      if (!this.keys.has(matchKey(title, artist, length))) return play(artist, title, length);
    }
    return this.catalogue[rng.skewed(this.catalogue.length, 2.2)] as Play;
  }
}

function before(a: Session, b: Session): boolean {
  return a.sec < b.sec || (a.sec === b.sec && a.seq < b.seq);
}

function heapPush(h: Session[], s: Session): void {
  let i = h.length;
  h.push(s);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (!before(s, h[parent] as Session)) break;
    h[i] = h[parent] as Session;
    i = parent;
  }
  h[i] = s;
}

/** Restores heap order after the top element's key grew. */
function heapReplaceTop(h: Session[], s: Session): void {
  const n = h.length;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) break;
    const r = l + 1;
    const c = r < n && before(h[r] as Session, h[l] as Session) ? r : l;
    if (!before(h[c] as Session, s)) break;
    h[i] = h[c] as Session;
    i = c;
  }
  h[i] = s;
}

function heapPop(h: Session[]): void {
  const last = h.pop() as Session;
  if (h.length > 0) heapReplaceTop(h, last);
}
