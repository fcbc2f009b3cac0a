/**
 * A small seeded pseudo-random generator for the sample lake.
 *
 * `Rng` is sfc32 (four 32-bit words of state, period > 2^32), seeded through
 * a splitmix-style integer hash so that every part of the lake (songs, users,
 * the play catalogue, each day's events) draws from its own stream derived
 * from `(seed, stream)`. The same seed therefore gives the same songs whatever
 * `eventsPerDay` is, and the same bytes on every run and platform.
 */

/** Mixes a 32-bit integer (a splitmix32/murmur3-finaliser style avalanche). */
export function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Turns any finite number into 32 bits, keeping the high part of large seeds. */
export function seedBits(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const whole = Math.trunc(seed);
  const lo = whole >>> 0;
  const hi = Math.floor(Math.abs(whole) / 4294967296) >>> 0;
  const frac = Math.round((Math.abs(seed) - Math.abs(whole)) * 4294967296) >>> 0;
  return (mix32(lo ^ mix32(hi ^ mix32(frac))) ^ (whole < 0 ? 0x5bd1e995 : 0)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` is any number; `stream` names an independent sub-sequence. */
  constructor(seed: number, stream = 0) {
    const s = seedBits(seed);
    const t = mix32(stream ^ 0x27d4eb2f);
    this.a = mix32(s ^ t);
    this.b = mix32(this.a ^ 0x165667b1);
    this.c = mix32(this.b ^ s);
    this.d = 1;
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /** Next 32-bit unsigned integer (sfc32). */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Uniform integer in [lo, hi] (both inclusive). */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)] as T;
  }

  /** Index in [0, n) skewed towards 0: `power` 1 is uniform, larger is more skewed. */
  skewed(n: number, power: number): number {
    return Math.min(n - 1, Math.floor(n * Math.pow(this.next(), power)));
  }

  /** Exponentially distributed value with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** Picks an index by weight (weights need not sum to 1). */
  weighted(weights: readonly number[], total: number): number {
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i] as number;
      if (r < 0) return i;
    }
    return weights.length - 1;
  }
}
