/**
 * A second "host" on a network the test can cut: a Linux network namespace
 * joined to this one by a veth pair, with addresses from a private /30 made up
 * here (10.213.x.y). Processes started with `exec` as a command prefix run in
 * the namespace and see only its loopback and their end of the pair, so the
 * only way out is to the root-side address, where the test listens (see
 * `forwardTcp`). `cut()` takes the root end of the pair down: packets vanish,
 * no RST, no error on either side, as in a real network partition.
 *
 * Needs `ip` and the right to make namespaces (root or CAP_NET_ADMIN):
 * `isolatedHost()` returns why not instead, for the test to skip saying so.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import net from 'node:net';

export interface IsolatedHost {
  /** The namespace's name. */
  ns: string;
  /** The address of this (root) namespace's end of the pair: what processes in the namespace can reach. */
  outerAddr: string;
  /** The address inside the namespace. */
  innerAddr: string;
  /** Command prefix that runs a command inside the namespace (`ip netns exec NS`: it execs in place). */
  exec: string[];
  /** Partitions the namespace from this one (its link goes down); `heal()` brings it back. */
  cut(): void;
  heal(): void;
  /** Deletes the namespace and the pair (idempotent; also done at exit). */
  remove(): void;
}

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; code?: string; message: string };
    if (e.code === 'ENOENT') throw new Error("the 'ip' command (iproute2) is not installed", { cause: err });
    throw new Error(`ip ${args.join(' ')}: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

let made = 0;

/** A /30 under 10.213.0.0/16 that no interface of this namespace uses yet (another run's leftover pair, say). */
function freeBlock(): { outer: string; inner: string } {
  const used = ip(['-4', '-o', 'addr', 'show']);
  for (let i = 0; i < 16_384; i++) {
    const block = (process.pid * 7 + made * 131 + i) % 16_384;
    const third = Math.floor(block / 64);
    const base = (block % 64) * 4;
    const prefix = `10.213.${third}.`;
    if (![1, 2].some((d) => used.includes(` ${prefix}${base + d}/`))) {
      return { outer: `${prefix}${base + 1}`, inner: `${prefix}${base + 2}` };
    }
  }
  throw new Error('no free /30 under 10.213.0.0/16 for a test veth pair');
}

/** Makes the namespace and its veth pair, or returns why it cannot (not Linux, no `ip`, not permitted). */
export function isolatedHost(): IsolatedHost | string {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  const n = ++made;
  const ns = `sluice-${process.pid}-${n}`;
  // Interface names have at most 15 characters.
  const tag = `${process.pid.toString(36)}${n}`.slice(-9);
  const outerIf = `slo${tag}`;
  const innerIf = `sli${tag}`;
  try {
    ip(['netns', 'add', ns]);
  } catch (err) {
    return `cannot make a network namespace (${(err as Error).message}); run as root or with CAP_NET_ADMIN`;
  }
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    for (const args of [
      ['netns', 'del', ns],
      ['link', 'del', outerIf], // normally gone with the namespace (its peer was in it)
    ]) {
      try {
        ip(args);
      } catch {
        // already gone
      }
    }
  };
  process.once('exit', remove);
  try {
    const { outer, inner } = freeBlock();
    ip(['link', 'add', outerIf, 'type', 'veth', 'peer', 'name', innerIf]);
    ip(['link', 'set', innerIf, 'netns', ns]);
    ip(['addr', 'add', `${outer}/30`, 'dev', outerIf]);
    ip(['link', 'set', outerIf, 'up']);
    ip(['-n', ns, 'addr', 'add', `${inner}/30`, 'dev', innerIf]);
    ip(['-n', ns, 'link', 'set', innerIf, 'up']);
    ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    ip(['netns', 'exec', ns, 'true']); // some containers may make namespaces but not enter them (remounting /sys)
    return {
      ns,
      outerAddr: outer,
      innerAddr: inner,
      exec: ['ip', 'netns', 'exec', ns],
      cut: () => void ip(['link', 'set', outerIf, 'down']),
      heal: () => void ip(['link', 'set', outerIf, 'up']),
      remove,
    };
  } catch (err) {
    remove();
    return `cannot set up a veth pair for namespace ${ns} (${(err as Error).message})`;
  }
}

/**
 * Whether a process in the namespace can open a TCP connection to addr:port
 * (a firewall on this host may drop what comes in on the pair); null when it
 * can, otherwise what went wrong.
 */
export function reachableFrom(host: IsolatedHost, addr: string, port: number): string | null {
  const script =
    `const s = require('node:net').connect(${port}, ${JSON.stringify(addr)}, () => process.exit(0));` +
    `s.on('error', (e) => { console.error(e.message); process.exit(1); });` +
    `setTimeout(() => { console.error('no answer in 10s'); process.exit(1); }, 10000);`;
  const r = spawnSync(host.exec[0]!, [...host.exec.slice(1), process.execPath, '-e', script], { encoding: 'utf8' });
  return r.status === 0 ? null : (r.stderr || r.error?.message || `exit ${r.status}`).trim();
}

export interface TcpForwarder {
  port: number;
  /** Stops listening and drops every forwarded connection. */
  close(): Promise<void>;
}

/**
 * Listens on host:0 and forwards each connection to target (both ways), so a
 * process in a namespace reaches a server that listens on 127.0.0.1 only.
 */
export async function forwardTcp(host: string, target: { host: string; port: number }): Promise<TcpForwarder> {
  const sockets = new Set<net.Socket>();
  const track = (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    track(client);
    track(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
