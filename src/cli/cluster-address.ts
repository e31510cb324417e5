/**
 * Which cluster a verb talks to: the one named with `-m host:port`; else the one recorded in
 * the cluster directory (`WEIR_CLUSTER_DIR`, default `<os tmpdir>/weir-cluster`); else a weir
 * cluster answering at the default address 127.0.0.1:8081.
 */
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

async function answersAsWeir(address: string): Promise<boolean> {
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
