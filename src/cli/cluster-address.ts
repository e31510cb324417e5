/**
 * Which cluster a verb talks to: the one named with `-m host:port`; else the one recorded in
 * the cluster directory (`WEIR_CLUSTER_DIR`, default `<os tmpdir>/weir-cluster`); else a weir
 * cluster answering at the default address 127.0.0.1:8081.
 */
import { connect } from 'node:net';
import { clusterDir, readClusterInfo } from '../cluster/cluster-files.ts';

export const DEFAULT_REST_ADDRESS = 'http://127.0.0.1:8081';

/** `host:port`, `:port` or a URL, as a base URL. */
export function normalizeAddress(value: string): string {
  const v = value.trim();
  if (/^https?:\/\//.test(v)) return v.replace(/\/+$/, '');
  const m = /^(\[[^\]]+\]|[^:/]*)(?::(\d+))?$/.exec(v);
  if (!m) throw new Error(`-m needs host:port, got ${JSON.stringify(value)}`);
  return `http://${m[1] || '127.0.0.1'}:${m[2] ?? '8081'}`;
}

/**
 * Whether anything accepts connections at the address's host and port. Much cheaper than the
 * first fetch() of a process (which loads Node's HTTP client), and on a machine without a
 * cluster the answer is a refusal within microseconds.
 */
function accepts(address: string, timeoutMs: number): Promise<boolean> {
  const url = new URL(address);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function answersAsWeir(address: string): Promise<boolean> {
  if (!(await accepts(address, 1000))) return false;
  try {
    const r = await fetch(`${address}/config`, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) return false;
    const body = (await r.json()) as Record<string, unknown>;
    return typeof body['weir-version'] === 'string';
  } catch {
    return false;
  }
}

/** The address of the cluster to use, or undefined when none is named, recorded or answering. */
export async function findCluster(explicit: string | undefined): Promise<string | undefined> {
  if (explicit !== undefined) return normalizeAddress(explicit);
  const info = readClusterInfo(clusterDir());
  if (info) return info.restAddress;
  return (await answersAsWeir(DEFAULT_REST_ADDRESS)) ? DEFAULT_REST_ADDRESS : undefined;
}

/** The cluster to use, or an error that says where weir looked. */
export async function requireCluster(explicit: string | undefined): Promise<string> {
  const address = await findCluster(explicit);
  if (address !== undefined) return address;
  throw new Error(
    `no weir cluster is running: none is recorded in ${clusterDir()} and none answers at ${DEFAULT_REST_ADDRESS}; start one with \`weir start-cluster\` or name one with -m host:port`,
  );
}
