/**
 * Shared by the tests of state backends' snapshot writing and restoring at the seam (local
 * recovery of both backends): an in-memory checkpoint storage, a reader that refuses every read,
 * and a small keyed state (a count and a map per key) with its timers, filled and dumped the
 * same way on either backend. And, for the local recovery tests of both backends in a job, the
 * job with its failures and the checks of its result and restores (runLocalRecoveryJob).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import type { KeyedSnapshotWriteResult, KeyedStateBackendParameters, StateBackend, StateFileSink, StateFileSource } from '../../src/state/state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import type { TimerSnapshot } from '../../src/state/timer-snapshot.ts';
import { runJob, startJob } from '../../src/testing/index.ts';

/**
 * Files by path in memory, as a checkpoint storage holds them, with the paths read, in order, and
 * those written since `written` was last emptied. With `shared`, files written with scope
 * 'shared' go under `shared/`, as the storage puts them.
 */
export class MemoryFiles {
  readonly files = new Map<string, Uint8Array>();
  readonly reads: string[] = [];
  written: string[] = [];
  readonly #shared: boolean;
  constructor(o: { readonly shared?: boolean } = {}) {
    this.#shared = o.shared === true;
  }
  sink(checkpointId: number): StateFileSink {
    return async (name, payload, options) => {
      const path = this.#shared && options?.scope === 'shared' ? `shared/${name}` : `chk-${checkpointId}/${name}`;
      this.files.set(path, Uint8Array.from(payload));
      this.written.push(path);
      return { path, size: payload.byteLength, checksum: createHash('sha256').update(payload).digest('hex') };
    };
  }
  readonly read: StateFileSource = async (h: StateFileHandle) => {
    this.reads.push(h.path);
    const bytes = this.files.get(h.path);
    if (bytes === undefined) throw new Error(`no file ${h.path}`);
    return bytes;
  };
}

/**
 * Checkpoint `id` of `live` written by `backend` into `files` (what it writes listed in
 * `files.written`, emptied first), as the runtime writes an ordinary checkpoint's keyed state.
 */
export async function checkpointInto(backend: StateBackend, live: KeyedStateBackend, files: MemoryFiles, id: number): Promise<KeyedSnapshotWriteResult> {
  files.written = [];
  const snapshot = live.snapshot();
  try {
    return await backend.writeKeyedSnapshot({ snapshot, keyGroupRange: live.keyGroupRange, filePrefix: 'op-1-0', sink: files.sink(id), snapshotType: 'incremental', checkpointId: id });
  } finally {
    snapshot.release();
  }
}

/**
 * Restores `handles` through `read` into a fresh backend made with `params`: its dump, and where
 * a RocksDB backend read its files from (`lastRestore`: 'local' or 'remote').
 */
export async function restoreFresh(
  backend: StateBackend,
  params: KeyedStateBackendParameters,
  handles: readonly StateFileHandle[],
  read: StateFileSource,
): Promise<{ readonly state: Map<string, unknown>; readonly from: unknown }> {
  const fresh = backend.createKeyedStateBackend(params);
  try {
    await (await backend.readKeyedSnapshot(handles, read, params.keyGroupRange)).restoreInto!(fresh);
    return { state: dump(fresh), from: (fresh as unknown as { lastRestore: unknown }).lastRestore };
  } finally {
    fresh.dispose();
  }
}

/** Reads `files`, refusing SST files: a RocksDB restore that works with it took them from its task-local copy. */
export const noSstReads =
  (files: MemoryFiles): StateFileSource =>
  async (h) => {
    if (h.path.endsWith('.sst')) throw new Error(`read ${h.path} from the checkpoint storage`);
    return files.read(h);
  };

/** Refuses every read: a restore that works with it read nothing from the storage. */
export const noReads: StateFileSource = async (h) => {
  throw new Error(`read ${h.path} from the checkpoint storage`);
};

export const countD = new ValueStateDescriptor<number>('count', 0);
export const tagsD = new MapStateDescriptor<string, number>('tags');

/** Adds `delta` to the count of keys `key-<from>` .. `key-<to - 1>` and puts one tag each. */
export function fill(b: KeyedStateBackend, from: number, to: number, delta: number): void {
  const count = b.getValueState(countD);
  const tags = b.getMapState(tagsD);
  for (let k = from; k < to; k++) {
    b.setCurrentKey(`key-${k}`);
    count.update((count.value() ?? 0) + delta);
    tags.put(`t${k % 3}`, k);
  }
}

/** Every key's count and sorted tags, by key. */
export function dump(b: KeyedStateBackend): Map<string, unknown> {
  const count = b.getValueState(countD);
  const tags = b.getMapState(tagsD);
  const out = new Map<string, unknown>();
  for (const key of [...b.keys('count')].sort()) {
    b.setCurrentKey(key);
    out.set(key as string, [count.value(), [...tags.entries()].sort()]);
  }
  return out;
}

/** Timers of the first `n` keys, each in its key group, at `base + k`. */
export function timersOf(live: KeyedStateBackend, n: number, domain: 'event' | 'processing', base: number): TimerSnapshot<unknown>[] {
  const out: TimerSnapshot<unknown>[] = [];
  for (let k = 0; k < n; k++) {
    live.setCurrentKey(`key-${k}`);
    out.push({ domain, key: `key-${k}`, keyGroup: live.getCurrentKeyGroup(), timestamp: base + k });
  }
  return out;
}

/** Timers as sorted strings, for comparing sets of them. */
export const timerStrings = (ts: readonly TimerSnapshot<unknown>[]): string[] => ts.map((t) => `${t.domain}:${String(t.key)}:${t.keyGroup}:${t.timestamp}`).sort();

/** What a backend's local recovery job test sets; the rest is runLocalRecoveryJob's. */
export interface LocalRecoveryJob {
  /** A directory of the test's own: the checkpoints are written under `<dir>/chk`. */
  readonly dir: string;
  /** The job's configuration: the state backend, with `state.backend.local-recovery` on. */
  readonly config: Record<string, unknown>;
  /**
   * The backend's counts of keyed restores from the task-local copies and from the checkpoint
   * storage: module counters, which the job's restarts bump in this thread (it runs inline).
   */
  readonly stats: { readonly local: number; readonly remote: number };
}

const canon = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();

/**
 * Runs test/jobs/golden.ts's keyed pipeline straight (p=1), then at p=2 inline with checkpoints
 * every 25 ms, local recovery and two failures, each once a checkpoint completed in its attempt
 * (an operator in attempt 0, the sink in attempt 1). Asserts that the job restarted and restored
 * a checkpoint, that its result is exactly the straight run's, and that the keyed subtasks'
 * restores were mostly local (at least one, and no fewer than from the storage). Returns the
 * job's id, for the test to check that the finished job left no local copy where its backend
 * keeps them.
 */
export async function runLocalRecoveryJob({ dir, config, stats }: LocalRecoveryJob): Promise<string> {
  // The sources go slowly (15 records per ms and subtask) so that the faults' checkpoints complete
  // before the input ends, even full RocksDB ones, which take a few hundred ms here.
  const N = 30_000;
  const expected = canon((await runJob('test/jobs/golden.ts', { args: ['keyed', String(N), '{}'], parallelism: 1, mode: 'inline' })).collected);
  const faults = [
    { at: 'operator', attempt: 0, after: 2_000, checkpointed: true },
    { at: 'sink', attempt: 1, after: 300, checkpointed: true },
  ];
  const before = { ...stats };
  const client = await startJob('test/jobs/golden.ts', {
    args: ['keyed', String(N), JSON.stringify({ dir: join(dir, 'chk'), interval: 25, faults, throttle: 15, source: 'function' })],
    parallelism: 2,
    mode: 'inline',
    config,
  });
  const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
  // The second fault may miss when its attempt ends first; the first always restarts the job.
  assert.ok((await client.getNumRestarts()) >= 1);
  assert.ok((await client.getCheckpointStats())!.counts.restored >= 1, 'a restart restored a checkpoint');
  assert.deepEqual(canon([...result.collected.values()].flat()), expected);
  const local = stats.local - before.local;
  const remote = stats.remote - before.remote;
  assert.ok(local >= 1, `keyed subtasks restored from their task-local copies (${local} local, ${remote} from the storage)`);
  assert.ok(local >= remote, `most restores were local (${local} local, ${remote} from the storage)`);
  return client.getJobID();
}
