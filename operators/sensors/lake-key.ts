/**
 * LakeKeySensor: waits for an object (a key), any object under a prefix, or
 * objects matching a glob, in a lake connection (a local folder or S3), as
 * Airflow's S3KeySensor. The usual guard before a COPY of a file that may
 * arrive late: the load starts when the file is there, instead of failing and
 * retrying blindly.
 */
import { z } from 'zod';
import { TaskFailure } from '../../engine/errors.js';
import type { ObjectInfo } from '../../engine/interfaces.js';
import { defineOperator } from '../../engine/operator.js';
import { pokeUntil, SENSOR_PARAMS } from './poke.js';

/** How many matched keys the task's outputs list (the counts cover them all). */
const KEYS_RECORDED = 100;

export const LakeKeySensor = defineOperator({
  name: 'LakeKeySensor',
  description: 'Waits until a key, a prefix or a glob has objects in a lake connection (Airflow S3KeySensor)',
  params: z
    .object({
      key: z
        .string()
        .min(1)
        .optional()
        .describe("one object's key, e.g. log_data/{{ ds_nodash }}-events.json (a Liquid template)"),
      prefix: z.string().optional().describe('any object under this prefix, e.g. log_data/2018/11/ (a Liquid template)'),
      glob: z
        .string()
        .min(1)
        .optional()
        .describe('objects whose key matches a glob (* ? [abc] {a,b}; ** crosses folders), e.g. song_data/**/*.json'),
      lake: z.string().min(1).default('lake').describe('name of the object store connection (a folder or s3://...)'),
      min_size: z
        .number()
        .int()
        .min(0)
        .default(0)
        .describe('an object counts only from this many bytes (e.g. 1 ignores empty files still being written)'),
      min_objects: z
        .number()
        .int()
        .min(1)
        .default(1)
        .describe('how many matching objects must be there (prefix and glob), e.g. 24 for a day of hourly files'),
      ...SENSOR_PARAMS,
    })
    .strict()
    .refine((p) => [p.key, p.prefix, p.glob].filter((v) => v !== undefined).length === 1, {
      message: 'give exactly one of key, prefix and glob',
    }),
  templated: ['key', 'prefix', 'glob'],
  async execute(ctx) {
    const { params } = ctx;
    const store = await ctx.objectStore(params.lake);
    const match = matcher(params);
    const where = `${store.url.replace(/\?.*$/, '').replace(/\/+$/, '')}/`;
    const what =
      params.key !== undefined
        ? `object ${where}${match.target}`
        : `${params.min_objects > 1 ? `${params.min_objects} objects` : 'an object'} ${
            params.prefix !== undefined ? 'under' : 'matching'
          } ${where}${match.target}`;
    await pokeUntil(ctx, what, async () => {
      const listed = await store.list(match.listPrefix, { signal: ctx.signal });
      const matching = listed.filter((o) => match.test(o.key));
      const bigEnough = matching.filter((o) => o.size >= params.min_size);
      const needed = params.key !== undefined ? 1 : params.min_objects;
      if (bigEnough.length >= needed) {
        return {
          done: true,
          outputs: {
            objects: bigEnough.length,
            bytes: bigEnough.reduce((n, o) => n + o.size, 0),
            keys: bigEnough.slice(0, KEYS_RECORDED).map((o) => o.key),
          },
        };
      }
      return { done: false, seen: describeSeen(matching, bigEnough, params.min_size) };
    });
  },
});

function describeSeen(matching: ObjectInfo[], bigEnough: ObjectInfo[], minSize: number): string {
  if (matching.length === 0) return 'nothing there';
  const n = `${matching.length} object${matching.length === 1 ? '' : 's'}`;
  return minSize > 0 ? `${n}, ${bigEnough.length} of at least ${minSize} bytes` : n;
}

/** What to list and which listed keys count. */
function matcher(p: { key?: string; prefix?: string; glob?: string }): {
  target: string;
  listPrefix: string;
  test: (key: string) => boolean;
} {
  const clean = (s: string) => s.replace(/^\/+/, '');
  if (p.key !== undefined) {
    const key = clean(p.key);
    if (!key || key.endsWith('/')) {
      throw new TaskFailure(`key '${p.key}' names a folder, not an object: use prefix: to wait for objects under it`, {
        retryable: false,
        notRetriedBecause: 'the task parameters need fixing',
      });
    }
    return { target: key, listPrefix: key, test: (k) => k === key };
  }
  if (p.prefix !== undefined) {
    const prefix = clean(p.prefix);
    return { target: prefix, listPrefix: prefix, test: (k) => k.startsWith(prefix) };
  }
  const glob = clean(p.glob!);
  const re = globToRegExp(glob);
  // Only the part before the first wildcard is listed (a glob's literal head narrows an S3 listing).
  const head = /[*?[{]/.exec(glob);
  return { target: glob, listPrefix: head ? glob.slice(0, head.index) : glob, test: (k) => re.test(k) };
}

/**
 * A glob as a regular expression over '/'-separated keys: `*` and `?` stay
 * inside one path segment, `**` crosses segments (`a/**\/b` also matches
 * `a/b`), `[abc]`/`[!abc]` are character classes and `{x,y}` alternatives.
 */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slashAfter = glob[i + 2] === '/';
        out += slashAfter ? '(?:.*/)?' : '.*';
        i += slashAfter ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) out += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        const negate = body.startsWith('!') || body.startsWith('^');
        if (negate) body = body.slice(1);
        out += `[${negate ? '^/' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  if (braces > 0) throw new TaskFailure(`glob '${glob}' has an unclosed '{'`, { retryable: false });
  return new RegExp(`^${out}$`);
}
