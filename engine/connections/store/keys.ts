/**
 * Object keys: '/'-separated, relative to a store's root. A key may also be
 * given as a full URL under the store (what `{{ conn.lake }}/log_data/`
 * renders to); it is made relative here.
 */
import { fileURLToPath } from 'node:url';
import { ConnectionError } from '../../errors.js';
import { urlLocation } from '../url.js';

/** Makes `key` relative to the store at `storeUrl`; rejects '..' segments. */
export function toStoreKey(storeUrl: string, key: string): string {
  let k = key;
  const loc = urlLocation(storeUrl);
  if (k === loc || k === `${loc}/`) return '';
  if (k.startsWith(`${loc}/`)) k = k.slice(loc.length + 1);
  else if (loc.startsWith('file://')) {
    const root = fileURLToPath(loc).replace(/\/+$/, '');
    if (k === root) return '';
    if (k.startsWith(`${root}/`)) k = k.slice(root.length + 1);
  }
  k = k.replace(/^\/+/, '');
  if (k.split('/').includes('..')) throw new ConnectionError(`object key must not contain '..': ${key}`);
  return k;
}

/** storeUrl + '/' + key, for messages. */
export function objectUrl(storeUrl: string, key: string): string {
  const q = storeUrl.indexOf('?');
  const base = (q >= 0 ? storeUrl.slice(0, q) : storeUrl).replace(/\/+$/, '');
  return key ? `${base}/${key}` : `${base}/`;
}
