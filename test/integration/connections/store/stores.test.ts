/**
 * Object stores against real backends: a temp folder and an s3rver HTTP server.
 */
import { expect } from 'chai';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { openObjectStore } from '../../../../engine/connections/index.js';
import { ConnectionError, LoadError } from '../../../../engine/errors.js';
import type { ObjectStore } from '../../../../engine/interfaces.js';
import { useS3rver } from '../../../helpers/s3.js';
import { makeTempDir } from '../../../helpers/tmp.js';

async function text(stream: Readable): Promise<string> {
  let s = '';
  for await (const c of stream) s += c.toString();
  return s;
}

function describeStore(label: string, open: () => Promise<ObjectStore>) {
  describe(`object store: ${label}`, () => {
    let store: ObjectStore;
    before(async () => {
      store = await open();
      await store.write('log_data/2018/11/b.json', '{"b":1}\n');
      await store.write('log_data/2018/11/a.json', Buffer.from('{"a":1}\n'));
      await store.write('log_data/2018/12/c.json.gz', gzipSync('{"c":1}\n'));
      await store.write('log_data/2018/12/sniffed.json', gzipSync('{"gz":"sniffed"}'));
      await store.write('song_data/A/B/C/x.json', Readable.from(['{"song":', '"x"}']));
      await store.write('log_data-other.json', '{}');
    });
    after(async () => store.close());

    it('lists every object under a prefix, recursively and sorted, with sizes', async () => {
      const all = await store.list('log_data/');
      expect(all.map((o) => o.key)).to.deep.equal([
        'log_data/2018/11/a.json',
        'log_data/2018/11/b.json',
        'log_data/2018/12/c.json.gz',
        'log_data/2018/12/sniffed.json',
      ]);
      expect(all[0]!.size).to.equal(8);
      expect((await store.list('')).length).to.equal(6);
      expect((await store.list('log_data')).map((o) => o.key)).to.include('log_data-other.json');
      expect((await store.list('log_data/2018/11/a')).map((o) => o.key)).to.deep.equal(['log_data/2018/11/a.json']);
      expect(await store.list('nothing/here/')).to.deep.equal([]);
    });

    it('accepts a full URL under the store as the prefix', async () => {
      const keys = (await store.list(`${store.url.split('?')[0]}/song_data/`)).map((o) => o.key);
      expect(keys).to.deep.equal(['song_data/A/B/C/x.json']);
    });

    it('reads objects, gunzipping .gz keys', async () => {
      expect(await text(await store.read('log_data/2018/11/a.json'))).to.equal('{"a":1}\n');
      expect(await text(await store.read('log_data/2018/12/c.json.gz'))).to.equal('{"c":1}\n');
      expect(await text(await store.read('song_data/A/B/C/x.json'))).to.equal('{"song":"x"}');
    });

    it('refuses gzip bytes under a key without .gz (Redshift would not gunzip them), naming the fix', async () => {
      try {
        await store.read('log_data/2018/12/sniffed.json');
        expect.fail('read should fail');
      } catch (err) {
        expect(err).to.be.instanceOf(LoadError);
        expect((err as Error).message).to.match(
          /log_data\/2018\/12\/sniffed\.json: the data is gzip-compressed but the key does not end in \.gz.*rename it to sniffed\.json\.gz$/,
        );
      }
    });

    it('names the key of a missing object', async () => {
      try {
        await store.read('log_data/nope.json');
        expect.fail('read should fail');
      } catch (err) {
        expect(err).to.be.instanceOf(LoadError);
        expect((err as Error).message).to.match(/object not found: .*log_data\/nope\.json/);
      }
    });

    it('refuses keys that climb out of the store', async () => {
      try {
        await store.read('../secret');
        expect.fail('read should fail');
      } catch (err) {
        expect(err).to.be.instanceOf(ConnectionError);
      }
    });
  });
}

describeStore('local folder', async () => openObjectStore('lake', { home: makeTempDir('sluice-store') }));

describe('s3 (s3rver)', () => {
  const s3 = useS3rver(['lake', 'empty']);
  describeStore('s3 via s3rver', async () => openObjectStore(s3.storeUrl('lake', 'pre/fix/'), { home: '/' }));

  it('redacts the secret key in the store URL', async () => {
    const store = await openObjectStore(s3.storeUrl('lake'), { home: '/' });
    expect(store.url)
      .to.contain('secret_access_key=***')
      .and.not.match(/secret_access_key=S3RVER/);
    await store.close();
  });

  it('a missing bucket is a ConnectionError', async () => {
    const store = await openObjectStore(s3.storeUrl('no-such-bucket'), { home: '/' });
    try {
      await store.list('');
      expect.fail('list should fail');
    } catch (err) {
      expect(err).to.be.instanceOf(ConnectionError);
      expect((err as Error).message).to.match(/no-such-bucket/);
    } finally {
      await store.close();
    }
  });
});
