/**
 * rocksdb-incremental: what incremental RocksDB checkpoints upload and how fast they restore, at
 * the state backend's seam with the real file-system checkpoint storage (no job around it).
 *
 * 1. Upload: `keys` keys of a ValueState (a number each) are loaded and checkpointed (the first
 *    checkpoint uploads everything); then, for each further checkpoint, `updates` random keys are
 *    changed and a checkpoint taken and confirmed. Per checkpoint: the bytes uploaded (new SST
 *    files and change log segments), the bytes of state changed since the last one (the changed
 *    entries as RocksDB stores them: key and value), their ratio (the target is at most 2), and
 *    the bytes a full checkpoint of the same state would upload (every live SST file). Three
 *    variants in one run: incremental checkpoints; a change log materialized every 4th
 *    checkpoint (a clock that moves one interval per 4 checkpoints); a change log materialized
 *    only by the first checkpoint (Flink's 10 min interval, checkpoints every few seconds).
 * 2. Recovery: each variant's last checkpoint restored into a fresh backend of the same subtask,
 *    from the task-local copy (local recovery) and from the checkpoint storage: ms from the start
 *    of the restore until the state is readable, and a key read back to check it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueStateDescriptor } from '../src/api/state.ts';
import type { CheckpointId } from '../src/core/ids.ts';
import { FileSystemCheckpointStorage } from '../src/checkpoint/filesystem-checkpoint-storage.ts';
import type { KeyedStateBackend } from '../src/state/keyed-state-backend.ts';
import type { StateBackend, StateBackendScope } from '../src/state/state-backend.ts';
import { EmbeddedRocksDBStateBackend } from '../src/state/rocksdb/embedded-rocksdb-state-backend.ts';
import type { StateFileHandle } from '../src/state/state-file.ts';
import type { Benchmark, BenchOptions, DetailRow } from './harness.ts';

const MAX = 128;
const RANGE = { start: 0, end: MAX - 1 };
const SCOPE: StateBackendScope = { jobId: 'bench', operatorId: 'op', operatorName: 'incremental bench', subtaskIndex: 0, parallelism: 1 };
const countD = new ValueStateDescriptor<number>('count', 0);
/** RocksDB key (5-byte prefix + ~8 key bytes) and value (key + number, encoded) of one entry, about. */
const ENTRY_BYTES = 13 + 20;

/** xorshift32: a repeatable choice of keys to update. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Sets `keys` through the keyed API, reading each batch's state ahead first (as the input does). */
async function update(b: KeyedStateBackend, keys: readonly number[], value: (k: number) => number): Promise<void> {
  const count = b.getValueState(countD);
  for (let i = 0; i < keys.length; i += 4096) {
    const batch = keys.slice(i, i + 4096).map((k) => `k${k}`);
    await b.prefetch?.(batch);
    for (let j = 0; j < batch.length; j++) {
      b.setCurrentKey(batch[j]);
      count.update(value(keys[i + j]!));
    }
  }
}

/** How checkpoints are taken: incremental, or a change log materialized every `every` checkpoints (0: only the first). */
interface Variant {
  readonly name: string;
  readonly changelog: boolean;
  readonly every: number;
}

const VARIANTS: readonly Variant[] = [
  { name: 'incremental', changelog: false, every: 1 },
  { name: 'change log, materialized every 4th', changelog: true, every: 4 },
  { name: 'change log, materialized once', changelog: true, every: 0 },
];

/** One variant's checkpoints and recoveries. */
async function runVariant(v: Variant, dir: string, keys: number, updates: number, checkpoints: number, options: BenchOptions): Promise<DetailRow[]> {
  const rows: DetailRow[] = [];
  const storage = new FileSystemCheckpointStorage(join(dir, 'checkpoints'), 'bench-job');
  // The clock moves one materialization interval every `every` checkpoints.
  const clock = { now: 0 };
  const INTERVAL = 1000;
  const backend: StateBackend = new EmbeddedRocksDBStateBackend({
    incremental: true,
    localRecovery: true,
    localDir: join(dir, 'local'),
    changelog: v.changelog,
    materializeIntervalMs: INTERVAL,
    now: () => clock.now,
  });
  const live = backend.createKeyedStateBackend({ ...SCOPE, maxParallelism: MAX, keyGroupRange: RANGE });
  const all = Array.from({ length: keys }, (_, k) => k);
  options.log(`rocksdb-incremental (${v.name}): loading ${keys} keys`);
  await update(live, all, (k) => k);
  const next = random(20261202);
  const uploaded = new Set<string>();
  let last: readonly StateFileHandle[] = [];
  for (let id = 1; id <= checkpoints; id++) {
    const changed = id === 1 ? keys : updates;
    if (id > 1) {
      const picked = Array.from({ length: updates }, () => Math.floor(next() * keys));
      await update(live, picked, (k) => k + id);
    }
    clock.now = v.every === 0 ? 0 : Math.floor((id - 1) / v.every) * INTERVAL;
    const snapshot = live.snapshot();
    const t0 = performance.now();
    const written = await backend.writeKeyedSnapshot({
      snapshot,
      keyGroupRange: RANGE,
      filePrefix: 'op-0',
      sink: (name, payload, o) => storage.writeStateFile(id as CheckpointId, name, payload, o),
      snapshotType: 'incremental',
      checkpointId: id,
    });
    const ms = performance.now() - t0;
    snapshot.release();
    live.notifyCheckpointComplete?.(id);
    const shared = written.files.filter((f) => f.path.endsWith('.sst') || f.path.endsWith('.clog'));
    const fresh = shared.filter((f) => !uploaded.has(f.path));
    for (const f of shared) uploaded.add(f.path);
    const newBytes = fresh.reduce((n, f) => n + f.size, 0);
    const fullBytes = written.files.filter((f) => f.path.endsWith('.sst')).reduce((n, f) => n + f.size, 0);
    const logFiles = fresh.filter((f) => f.path.endsWith('.clog')).length;
    const changedBytes = changed * ENTRY_BYTES;
    last = written.files;
    options.log(`rocksdb-incremental (${v.name}): checkpoint ${id}: ${fresh.length - logFiles} SST files and ${logFiles} log segments new, ${newBytes} bytes (SST files listed: ${fullBytes} bytes)`);
    rows.push({
      kind: 'detail',
      benchmark: 'rocksdb-incremental',
      table: 'bytes uploaded per incremental checkpoint',
      mode: 'inline',
      parallelism: 1,
      runs: 1,
      cells: {
        checkpoints: v.name,
        checkpoint: String(id),
        'keys changed': String(changed),
        'changed bytes': String(changedBytes),
        'uploaded bytes': String(newBytes),
        'uploaded / changed': (newBytes / changedBytes).toFixed(2),
        'full checkpoint bytes': String(fullBytes),
        'new files': `${fresh.length - logFiles} SST, ${logFiles} log`,
        'async part ms': ms.toFixed(0),
      },
      figures: { variant: v.name, checkpoint: id, changed, changedBytes, newBytes, fullBytes, ms },
    });
  }
  const later = rows.slice(1).map((r) => r.figures as { changedBytes: number; newBytes: number });
  const ratio = later.reduce((n, r) => n + r.newBytes, 0) / later.reduce((n, r) => n + r.changedBytes, 0);
  options.log(`rocksdb-incremental (${v.name}): checkpoints 2..${checkpoints} (${updates} keys changed before each): uploaded / changed = ${ratio.toFixed(2)}`);
  live.dispose();

  for (const from of ['local', 'remote'] as const) {
    if (from === 'remote') rmSync(join(dir, 'local', 'job-bench', 'local'), { recursive: true, force: true });
    const fresh = backend.createKeyedStateBackend({ ...SCOPE, maxParallelism: MAX, keyGroupRange: RANGE });
    const t0 = performance.now();
    const restored = await backend.readKeyedSnapshot(last, (h) => storage.readStateFile(h), RANGE);
    await restored.restoreInto!(fresh);
    fresh.setCurrentKey('k1');
    const value = fresh.getValueState(countD).value();
    const ms = performance.now() - t0;
    fresh.dispose();
    rows.push({
      kind: 'detail',
      benchmark: 'rocksdb-incremental',
      table: 'recovery from the last incremental checkpoint',
      mode: 'inline',
      parallelism: 1,
      runs: 1,
      cells: { checkpoints: v.name, from, keys: String(keys), 'restore ms (until readable)': ms.toFixed(0), 'key k1 read back': String(value) },
      figures: { variant: v.name, from, keys, ms, value },
    });
  }
  return rows;
}

export const rocksdbIncremental: Benchmark = {
  name: 'rocksdb-incremental',
  summary: 'incremental RocksDB checkpoints and the change log: bytes uploaded vs changed, recovery local vs remote',
  async run(options: BenchOptions): Promise<DetailRow[]> {
    const keys = options.quick ? 300_000 : 1_000_000;
    // WEIR_BENCH_ROCKSDB_UPDATE_FRACTION: the share of the keys changed between two checkpoints
    // (default 0.1); the upload ratio depends on it, since a compaction rewrites state, not changes.
    const fraction = Number(process.env.WEIR_BENCH_ROCKSDB_UPDATE_FRACTION ?? 0.1);
    if (!(fraction > 0 && fraction <= 1)) throw new RangeError(`WEIR_BENCH_ROCKSDB_UPDATE_FRACTION must be in (0, 1], got ${process.env.WEIR_BENCH_ROCKSDB_UPDATE_FRACTION}`);
    const updates = Math.round(keys * fraction);
    const checkpoints = options.quick ? 6 : 12;
    const rows: DetailRow[] = [];
    for (const v of VARIANTS) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-bench-incr-'));
      try {
        rows.push(...(await runVariant(v, dir, keys, updates, checkpoints, options)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return rows;
  },
};
