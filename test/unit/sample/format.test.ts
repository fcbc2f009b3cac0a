import { expect } from 'chai';
import { join } from 'node:path';
import { logJsonString, mojibake, pyFloat, songJsonString } from '../../../sample/format.js';
import { Rng } from '../../../sample/prng.js';
import {
  EVENT_KEYS,
  formatEvent,
  formatSong,
  SONG_KEYS,
  songPath,
  type SparkifyEvent,
  type SongRecord,
} from '../../../sample/generate.js';
import { listFiles, readText, REAL_DATA } from './helpers.js';

describe('sample: formatting', () => {
  it('writes floats the way Python repr does', () => {
    expect(pyFloat(153.33832)).to.equal('153.33832');
    expect(pyFloat(-86.77836)).to.equal('-86.77836');
    expect(pyFloat(200)).to.equal('200.0');
    expect(pyFloat(1540919166796)).to.equal('1540919166796.0');
  });

  it('escapes strings like the song files (Python) and the logs (slashes too)', () => {
    expect(songJsonString('¿Dónde va Chichi?')).to.equal('"\\u00bfD\\u00f3nde va Chichi?"');
    expect(songJsonString('a/b "c" \\')).to.equal('"a/b \\"c\\" \\\\"');
    expect(logJsonString('Mozilla/5.0')).to.equal('"Mozilla\\/5.0"');
    expect(logJsonString('夜\u007f')).to.equal('"\\u591c\\u007f"');
    expect(JSON.parse(logJsonString('é/😀\n"'))).to.equal('é/😀\n"');
  });

  it('double-encodes mojibake like the real logs', () => {
    expect(logJsonString(mojibake('Esmée'))).to.equal('"Esm\\u00c3\\u0083\\u00c2\\u00a9e"');
  });

  it('puts song files under the 3rd-5th characters of the track id', () => {
    expect(songPath('TRAAAAW128F429D538')).to.equal('song_data/A/A/A/TRAAAAW128F429D538.json');
    expect(songPath('TRABBNP128F932546F', true)).to.equal('song_data/A/B/B/TRABBNP128F932546F.json.gz');
    expect(() => songPath('TRabc')).to.throw(RangeError);
  });

  it('has a deterministic seeded generator with independent streams', () => {
    const draw = (seed: number, stream: number): number[] => {
      const r = new Rng(seed, stream);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(draw(7, 0)).to.deep.equal(draw(7, 0));
    expect(draw(7, 0)).to.not.deep.equal(draw(8, 0));
    expect(draw(7, 0)).to.not.deep.equal(draw(7, 1));
    const r = new Rng(1);
    for (let i = 0; i < 10_000; i++) {
      const x = r.next();
      expect(x >= 0 && x < 1).to.equal(true);
      const n = r.range(3, 5);
      expect(n >= 3 && n <= 5).to.equal(true);
    }
  });

  describe('against the real Sparkify files', function () {
    before(function () {
      if (!REAL_DATA) this.skip();
    });

    it('formatSong reproduces every real song file byte for byte', () => {
      const files = listFiles(join(REAL_DATA!, 'song_data'));
      expect(files.length).to.be.greaterThan(0);
      for (const f of files) {
        const text = readText(join(REAL_DATA!, 'song_data', f));
        const song = JSON.parse(text) as SongRecord;
        expect(Object.keys(song)).to.deep.equal([...SONG_KEYS]);
        expect(formatSong(song), f).to.equal(text);
        const track = f.split('/').pop()!.replace('.json', '');
        expect('song_data/' + f).to.equal(songPath(track));
      }
    });

    it('formatEvent reproduces every real event line byte for byte', () => {
      const files = listFiles(join(REAL_DATA!, 'log_data'));
      let lines = 0;
      for (const f of files) {
        for (const line of readText(join(REAL_DATA!, 'log_data', f)).split('\n')) {
          const e = JSON.parse(line) as SparkifyEvent;
          expect(Object.keys(e)).to.deep.equal([...EVENT_KEYS]);
          expect(formatEvent(e)).to.equal(line);
          lines++;
        }
      }
      expect(lines).to.be.greaterThan(1000);
    });
  });
});
