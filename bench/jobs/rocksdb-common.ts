/**
 * What the RocksDB benchmark jobs (rocksdb-keyed-count.ts, rocksdb-large-state.ts) and their
 * benchmark (bench/rocksdb-state.ts) share: the key of each record, the backend settings, and a
 * count of the RocksDB backend's cache misses.
 *
 * Cache misses: RocksDBKeyedStateBackend counts its synchronous RocksDB reads (`cacheMisses`) and
 * the entries it read ahead of use (`prefetched`, one batched read per record batch) but nothing
 * publishes the figures, so `reportCacheMisses` wraps the class's dispose() in the thread that
 * runs the job and posts the counts of every instance disposed there. Measuring code only: the
 * engine is unchanged.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { RocksDBKeyedStateBackend } from '../../src/state/rocksdb/rocksdb-keyed-state-backend.ts';
import { channelName } from './common.ts';

/** The key of record x among `keys` keys: a 32-bit mix of x (uniform, not a cycle), modulo keys. */
export function keyOf(x: number, keys: number): number {
  let h = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  h = Math.imul(h ^ (h >>> 16), 0x45d9f3b);
  h ^= h >>> 16;
  return (h >>> 0) % keys;
}

export type BackendName = 'heap' | 'rocksdb' | 'rocksdb-incremental' | 'rocksdb-changelog';

export function parseBackend(s: string | undefined): BackendName {
  if (s === 'heap' || s === 'rocksdb' || s === 'rocksdb-incremental' || s === 'rocksdb-changelog') return s;
  throw new RangeError(`backend must be 'heap', 'rocksdb', 'rocksdb-incremental' or 'rocksdb-changelog', got ${String(s)}`);
}

/** How the tables name a backend. */
export function backendLabel(backend: BackendName): string {
  return backend === 'heap' ? 'heap' : backend === 'rocksdb' ? 'RocksDB (64 MiB cache)' : backend === 'rocksdb-changelog' ? 'RocksDB, change log' : 'RocksDB, incremental';
}

/**
 * Configuration keys selecting the backend; RocksDB with full (canonical) snapshots, incremental
 * ones, or a change log (Flink's default materialization interval), its working instances under
 * `localDir`.
 */
export function backendConfig(backend: BackendName, localDir: string | undefined): Record<string, unknown> {
  if (backend === 'heap') return { 'state.backend.type': 'hashmap' };
  return {
    'state.backend.type': 'rocksdb',
    'state.backend.incremental': backend === 'rocksdb-incremental',
    'state.backend.changelog.enabled': backend === 'rocksdb-changelog',
    ...(localDir ? { 'state.backend.rocksdb.localdir': localDir } : {}),
  };
}

/** Posted when a RocksDB keyed state backend of the run is disposed. */
export interface MissReport {
  readonly type: 'rocksdb-misses';
  readonly misses: number;
  readonly prefetched: number;
}

let hooked: string | undefined;

/** From now on, every RocksDB keyed state backend disposed in this thread reports its cache misses on the run's channel. */
export function reportCacheMisses(runId: string): void {
  if (hooked !== undefined) {
    hooked = runId;
    return;
  }
  hooked = runId;
  const proto = RocksDBKeyedStateBackend.prototype;
  const dispose = proto.dispose;
  proto.dispose = function (this: RocksDBKeyedStateBackend): void {
    const channel = new BroadcastChannel(channelName(hooked!));
    channel.postMessage({ type: 'rocksdb-misses', misses: this.cacheMisses, prefetched: this.prefetched } satisfies MissReport);
    channel.close();
    dispose.call(this);
  };
}
