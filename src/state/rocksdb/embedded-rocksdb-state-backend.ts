/**
 * The RocksDB state backend (Flink's EmbeddedRocksDBStateBackend), registered as
 * `state.backend.type: rocksdb`. Keyed state lives in one embedded RocksDB instance per keyed
 * operator subtask (rocksdb-keyed-state-backend.ts), in a working directory under
 * `state.backend.rocksdb.localdir`; operator state stays on the heap, as in Flink.
 *
 * Snapshots: the synchronous part costs O(states) (rocksdb-snapshot.ts); the asynchronous part
 * establishes the snapshot without blocking the task thread and then writes the keyed state file
 * format every backend reads (keyed-state-files.ts), copying RocksDB's values into the files as
 * they are. So checkpoints and savepoints taken on RocksDB restore on the heap backend and the
 * other way round, at any parallelism.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Configuration } from '../../api/configuration.ts';
import type { KeyGroupRange } from '../../core/key-group.ts';
import { readKeyedState, writeKeyedState } from '../heap/keyed-state-files.ts';
import type { KeyedStateBackend } from '../keyed-state-backend.ts';
import { DefaultOperatorStateBackend, type OperatorStateBackend } from '../operator-state-backend.ts';
import type {
  KeyedSnapshotWrite,
  KeyedSnapshotWriteResult,
  KeyedStateBackendParameters,
  RestoredKeyedState,
  StateBackend,
  StateBackendFactory,
  StateFileSource,
} from '../state-backend.ts';
import type { StateFileHandle } from '../state-file.ts';
import { readCanonicalKeyedState } from './rocksdb-canonical-restore.ts';
import { isIncremental, readIncremental, writeChangelog, writeIncremental } from './rocksdb-incremental.ts';
import { RocksDBKeyedStateBackend } from './rocksdb-keyed-state-backend.ts';
import { findFullLocalCopy, fullLocalRecoveryStats, restoredFromLocal, writeFullWithLocalCopy } from './rocksdb-local-recovery.ts';
import { RocksDBSnapshot } from './rocksdb-snapshot.ts';

/** Default bound of the cache of decoded entries per keyed operator subtask. */
export const DEFAULT_ROCKSDB_CACHE_BYTES = 64 * 1024 * 1024;

export interface RocksDBStateBackendOptions {
  /** Root of the working directories; default: `weir-rocksdb` under the OS temporary directory. */
  readonly localDir?: string | undefined;
  readonly writeBufferSize?: number;
  readonly writeBufferCount?: number;
  /** 0 turns RocksDB's block cache off. */
  readonly blockCacheSize?: number | undefined;
  readonly cacheBytes?: number | undefined;
  readonly incremental?: boolean;
  /** Task-local recovery of checkpoints, incremental and full (`state.backend.local-recovery`). */
  readonly localRecovery?: boolean;
  /**
   * Checkpoints upload a change log of the writes since the last one, and the SST files only at
   * materializations (`state.backend.changelog.enabled`, rocksdb-changelog.ts).
   */
  readonly changelog?: boolean;
  /** Time between materializations with a change log, ms (`state.backend.changelog.periodic-materialize.interval`; default 10 min). */
  readonly materializeIntervalMs?: number;
  /** The clock materializations are timed by (ms); default: the monotonic clock. */
  readonly now?: () => number;
}

/** Flink's default of `state.backend.changelog.periodic-materialize.interval`. */
export const DEFAULT_MATERIALIZE_INTERVAL_MS = 10 * 60 * 1000;

export class EmbeddedRocksDBStateBackend implements StateBackend {
  readonly name = 'rocksdb';
  readonly #o: RocksDBStateBackendOptions;

  constructor(o: RocksDBStateBackendOptions = {}) {
    this.#o = o;
  }

  /** Reads the backend's options from the configuration (the `state.backend.rocksdb.*` keys). */
  static fromConfiguration(config: Configuration): EmbeddedRocksDBStateBackend {
    return new EmbeddedRocksDBStateBackend({
      localDir: config.get('state.backend.rocksdb.localdir'),
      writeBufferSize: config.get('state.backend.rocksdb.writebuffer.size'),
      writeBufferCount: config.get('state.backend.rocksdb.writebuffer.count'),
      blockCacheSize: config.get('state.backend.rocksdb.block.cache-size'),
      cacheBytes: config.get('state.backend.rocksdb.memory.fixed-per-slot'),
      incremental: config.get('state.backend.incremental'),
      localRecovery: config.get('state.backend.local-recovery'),
      changelog: config.get('state.backend.changelog.enabled'),
      materializeIntervalMs: config.get('state.backend.changelog.periodic-materialize.interval'),
    });
  }

  createKeyedStateBackend(p: KeyedStateBackendParameters): KeyedStateBackend {
    sweepDeadProcesses(localRoot(this.#o.localDir));
    const dir = join(this.#jobDir(p.jobId), `pid-${process.pid}`, `op-${p.operatorId}-${p.subtaskIndex}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(dir, { recursive: true });
    } catch (e) {
      throw new Error(`state.backend.rocksdb.localdir: cannot create the RocksDB working directory ${dir}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return new RocksDBKeyedStateBackend({
      path: dir,
      maxParallelism: p.maxParallelism,
      keyGroupRange: p.keyGroupRange,
      where: p.operatorName,
      writeBufferSize: this.#o.writeBufferSize ?? 64 * 1024 * 1024,
      maxWriteBufferNumber: this.#o.writeBufferCount ?? 2,
      blockCache: this.#o.blockCacheSize !== 0,
      cacheBytes: this.#o.cacheBytes ?? DEFAULT_ROCKSDB_CACHE_BYTES,
      localRecoveryDir: this.#o.localRecovery === true ? join(this.#jobDir(p.jobId), 'local', `op-${p.operatorId}-${p.subtaskIndex}`) : undefined,
      changelog: this.#o.changelog === true ? { materializeIntervalMs: this.#o.materializeIntervalMs ?? DEFAULT_MATERIALIZE_INTERVAL_MS, now: this.#o.now } : undefined,
    });
  }

  createOperatorStateBackend(): OperatorStateBackend {
    return new DefaultOperatorStateBackend();
  }

  async writeKeyedSnapshot(w: KeyedSnapshotWrite): Promise<KeyedSnapshotWriteResult> {
    const s = w.snapshot;
    if (s instanceof RocksDBSnapshot && w.snapshotType === 'incremental' && w.checkpointId !== undefined) {
      const src = (s.owner as RocksDBKeyedStateBackend).incrementalSource(s);
      const checkpoint = { ...w, checkpointId: w.checkpointId };
      // With a change log: on top of the last completed materialization while it is recent enough;
      // otherwise this checkpoint materializes (uploads the SST files new since the last one).
      const base = src.changelog?.baseFor();
      if (src.changelog !== undefined && base !== undefined) return writeChangelog({ ...src, changelog: src.changelog }, base, checkpoint);
      if (this.#o.incremental === true || src.changelog !== undefined) {
        const written = await writeIncremental(src, checkpoint);
        if (written !== undefined) return written;
      }
    }
    if (s instanceof RocksDBSnapshot) {
      // Local recovery of full checkpoints: a native task-local copy beside the canonical files.
      const src = (s.owner as RocksDBKeyedStateBackend).incrementalSource(s);
      const localDir = src.localRecoveryDir;
      if (localDir !== undefined && w.checkpointId !== undefined) return writeFullWithLocalCopy({ ...src, localRecoveryDir: localDir }, { ...w, checkpointId: w.checkpointId });
      await s.establish();
    }
    return writeKeyedState(w);
  }

  /**
   * Incremental checkpoints restore their RocksDB instances (rocksdb-incremental.ts); canonical
   * files (savepoints, full checkpoints) are read straight into a staging instance
   * `<localdir>/restore/pid-<pid>-<random>`, which restoreInto makes the backend's instance
   * (rocksdb-canonical-restore.ts), so that a restore needs no memory that grows with the state.
   */
  readKeyedSnapshot(files: readonly StateFileHandle[], read: StateFileSource, range: KeyGroupRange): Promise<RestoredKeyedState> {
    if (isIncremental(files)) return readIncremental(files, read, range);
    if (files.length === 0) return readKeyedState(files, read, range);
    const root = localRoot(this.#o.localDir);
    sweepDeadProcesses(root);
    const fromStorage = (): Promise<RestoredKeyedState> =>
      readCanonicalKeyedState(files, read, range, {
        path: join(root, STAGING_DIR, `pid-${process.pid}-${randomBytes(6).toString('hex')}`),
        writeBufferSize: this.#o.writeBufferSize ?? 64 * 1024 * 1024,
        maxWriteBufferNumber: this.#o.writeBufferCount ?? 2,
        blockCache: this.#o.blockCacheSize !== 0,
      });
    if (this.#o.localRecovery !== true) return fromStorage();
    return this.#readLocalFirst(root, files, range, fromStorage);
  }

  /** A full checkpoint from its task-local copy when a verified one exists (rocksdb-local-recovery.ts), else from the storage. */
  async #readLocalFirst(root: string, files: readonly StateFileHandle[], range: KeyGroupRange, fromStorage: () => Promise<RestoredKeyedState>): Promise<RestoredKeyedState> {
    const found = await findFullLocalCopy(root, files, range);
    if (found !== undefined) return restoredFromLocal(found, fromStorage);
    fullLocalRecoveryStats.remote++;
    return fromStorage();
  }

  /** Deletes the job's working directory, with any instance a terminated thread left behind. */
  async releaseJob(jobId: string): Promise<void> {
    await rm(this.#jobDir(jobId), { recursive: true, force: true });
  }

  /** Every working instance of one job lives under this directory. */
  #jobDir(jobId: string): string {
    return join(localRoot(this.#o.localDir), `job-${jobId}`);
  }
}

const swept = new Set<string>();

/** Under the local root: staging instances of restores from canonical files, by process. */
const STAGING_DIR = 'restore';

/**
 * Working instances live under `<root>/job-<id>/pid-<pid>/` (staging instances of restores are
 * `<root>/restore/pid-<pid>-<random>`): a process killed without closing
 * them (SIGKILL, a crash) leaves its directory behind, which the next process that uses the same
 * root deletes, once, when the owning process no longer exists.
 */
function sweepDeadProcesses(root: string): void {
  if (swept.has(root)) return;
  swept.add(root);
  let jobs: string[];
  try {
    jobs = readdirSync(root).filter((d) => d.startsWith('job-'));
  } catch {
    return;
  }
  let staged: string[] = [];
  try {
    staged = readdirSync(join(root, STAGING_DIR));
  } catch {
    // None.
  }
  for (const dir of staged) {
    const pid = Number(/^pid-(\d+)-/.exec(dir)?.[1] ?? Number.NaN);
    if (Number.isNaN(pid) || pid === process.pid || isAlive(pid)) continue;
    rmSync(join(root, STAGING_DIR, dir), { recursive: true, force: true });
  }
  for (const job of jobs) {
    let owners: string[];
    try {
      owners = readdirSync(join(root, job)).filter((d) => /^pid-\d+$/.test(d));
    } catch {
      continue;
    }
    for (const owner of owners) {
      const pid = Number(owner.slice(4));
      if (pid === process.pid || isAlive(pid)) continue;
      rmSync(join(root, job, owner), { recursive: true, force: true });
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function localRoot(configured: string | undefined): string {
  if (configured === undefined) return join(tmpdir(), 'weir-rocksdb');
  return configured.startsWith('file:') ? fileURLToPath(configured) : configured;
}

/** Registered as `state.backend.type: rocksdb` (Flink's name), also `embeddedrocksdb`. */
export const ROCKSDB_STATE_BACKEND: StateBackendFactory = {
  name: 'rocksdb',
  aliases: ['embeddedrocksdb'],
  create: (config: Configuration) => EmbeddedRocksDBStateBackend.fromConfiguration(config),
};
