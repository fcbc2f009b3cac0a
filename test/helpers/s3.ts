/**
 * A real S3 HTTP server for tests: s3rver in a child process on a free
 * 127.0.0.1 port, data in a temp folder, with buckets created at start.
 *
 * Usage inside a describe():  const s3 = useS3rver(['lake']);  ... s3.storeUrl('lake', 'prefix/')
 */
import { S3Client } from '@aws-sdk/client-s3';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { freePort } from './postgres.js';
import { makeTempDir, removeTempDir } from './tmp.js';

const require = createRequire(import.meta.url);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const S3RVER_KEY = 'S3RVER';

export interface S3rver {
  endpoint: string;
  client: S3Client;
  /** s3://bucket/prefix URL with endpoint, path style and s3rver's credentials. */
  storeUrl(bucket: string, prefix?: string): string;
  stop(): Promise<void>;
}

/** Starts s3rver (needs --openssl-legacy-provider) and waits until it answers HTTP. */
export async function startS3rver(buckets: string[]): Promise<S3rver> {
  const dir = makeTempDir('sluice-s3rver');
  const port = await freePort();
  const bin = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const args = ['--openssl-legacy-provider', bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--silent'];
  for (const b of buckets) args.push('--configure-bucket', b);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`s3rver exited with ${child.exitCode}: ${stderr}`);
    try {
      await fetch(`${endpoint}/`);
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`s3rver did not answer on ${endpoint} within 20 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const client = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  return {
    endpoint,
    client,
    storeUrl: (bucket, prefix = '') =>
      `s3://${bucket}/${prefix}?region=us-east-1&endpoint=${encodeURIComponent(endpoint)}&path_style=true` +
      `&access_key_id=${S3RVER_KEY}&secret_access_key=${S3RVER_KEY}`,
    async stop() {
      client.destroy();
      process.off('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      removeTempDir(dir);
    },
  };
}

/** before/after hooks in the current describe(): a running s3rver with these buckets. */
export function useS3rver(buckets: string[]): S3rver {
  let server: S3rver | undefined;
  const proxy: S3rver = {
    get endpoint() {
      return server!.endpoint;
    },
    get client() {
      return server!.client;
    },
    storeUrl: (b, p) => server!.storeUrl(b, p),
    stop: async () => server?.stop(),
  };
  before(async function () {
    this.timeout(60_000);
    server = await startS3rver(buckets);
  });
  after(async () => {
    await server?.stop();
  });
  return proxy;
}
