/**
 * Task-local recovery (Flink's local recovery), the parts every state backend shares.
 *
 * With `state.backend.local-recovery`, a keyed subtask keeps a copy of what its last checkpoints
 * wrote in a task-local directory, `<root>/job-<id>/local/op-<operator>-<subtask>/chk-<n>`, so a
 * restart on the same machine restores without reading the checkpoint storage. What a copy holds
 * is the backend's choice (RocksDB: its native files, rocksdb/rocksdb-local-recovery.ts; heap: the
 * canonical files as written, heap/heap-local-recovery.ts); each copy has a manifest that binds it
 * to the checkpoint: it lists the handles of the files the checkpoint wrote to the storage (paths,
 * sizes, sha256, as the checkpoint's metadata lists them) and the key-group range, is named after
 * a digest of both (copyKey) and ends with its own sha256, and is renamed into place last, so a
 * copy without a whole manifest is never used. A restore is given only the checkpoint's handles
 * and range: it looks for the manifest of that name under the root (copies of other jobs, or of
 * other subtasks with the same files and range, hold the same state) and checks what it reads.
 *
 * Which copies are kept: a copy is written before the checkpoint is acknowledged; once a
 * checkpoint the subtask kept a copy of completes, older copies are deleted (newer pending ones
 * stay); an aborted checkpoint's copy is deleted; the job's directory goes when the job
 * terminates (StateBackend.releaseJob).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyGroupRange } from '../core/key-group.ts';
import type { KeyedStateSnapshot } from './keyed-state-backend.ts';
import type { StateFileHandle } from './state-file.ts';

/** Bytes read per slice while a local file is checked. */
const CHECK_SLICE = 4 << 20;

/**
 * Whether the file at `path` has `size` bytes and the sha256 `checksum` (hex); false when it is
 * missing. Read a slice at a time into one buffer: reading a copy of tens of MB whole costs more
 * than hashing it (fresh memory for each file), so a 1 GB copy is checked in about a second.
 */
export async function fileMatches(path: string, size: number, checksum: string): Promise<boolean> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch {
    return false;
  }
  try {
    if ((await fh.stat()).size !== size) return false;
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(Math.min(CHECK_SLICE, Math.max(1, size)));
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex') === checksum;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}

/** A subtask's task-local directory (stable across attempts of the job). */
export function localRecoveryDir(root: string, jobId: string, operatorId: string, subtaskIndex: number): string {
  return join(root, `job-${jobId}`, 'local', `op-${operatorId}-${subtaskIndex}`);
}

/**
 * The name of the manifest of a copy of exactly these files and key groups:
 * `<prefix><digest>.manifest`, the digest over the range and each file's path, size and sha256.
 */
export function manifestName(prefix: string, files: readonly StateFileHandle[], range: KeyGroupRange): string {
  const h = createHash('sha256').update(`${range.start}..${range.end}\n`);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${f.path}\0${f.size}\0${f.checksum}\n`);
  return `${prefix}${h.digest('hex').slice(0, 32)}.manifest`;
}

/** Whether two lists hold the same handles (path, size, sha256), in any order. */
export function sameFiles(a: readonly StateFileHandle[], b: readonly StateFileHandle[]): boolean {
  if (a.length !== b.length) return false;
  const key = (f: StateFileHandle): string => `${f.path}\0${f.size}\0${f.checksum}`;
  const set = new Set(a.map(key));
  return b.every((f) => set.has(key(f)));
}

/** Writes a manifest: its bytes, then their sha256; written beside and renamed into place. */
export async function writeManifest(path: string, body: Uint8Array): Promise<void> {
  await writeFile(`${path}.tmp`, Buffer.concat([body, createHash('sha256').update(body).digest()]));
  await rename(`${path}.tmp`, path);
}

/** A manifest's bytes when it is whole (its sha256 matches), else undefined. */
export async function readManifest(path: string): Promise<Uint8Array | undefined> {
  try {
    const raw = await readFile(path);
    if (raw.byteLength < 32) return undefined;
    const body = raw.subarray(0, raw.byteLength - 32);
    return createHash('sha256').update(body).digest().equals(raw.subarray(raw.byteLength - 32)) ? body : undefined;
  } catch {
    return undefined;
  }
}

/** The copies (`…/chk-<n>` directories under `root`'s jobs) that have a manifest named `name`, newest first. */
export async function findCopies(root: string, name: string): Promise<string[]> {
  const found: { dir: string; id: number }[] = [];
  for (const job of await list(root)) {
    if (!job.startsWith('job-')) continue;
    const local = join(root, job, 'local');
    for (const op of await list(local)) {
      for (const chk of await list(join(local, op))) {
        const m = /^chk-(\d+)$/.exec(chk);
        const dir = join(local, op, chk);
        if (m !== null && existsSync(join(dir, name))) found.push({ dir, id: Number(m[1]) });
      }
    }
  }
  return found.sort((a, b) => b.id - a.id).map((f) => f.dir);
}

async function list(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/**
 * Deletes the copies in `dir` older than `keep` (a completed checkpoint); newer pending ones stay.
 * Synchronous, so that the next restore cannot see them.
 */
export function pruneCopies(dir: string, keep: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^chk-(\d+)$/.exec(name);
    if (m !== null && Number(m[1]) < keep) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

const snapshotsOf = new WeakMap<KeyedStateSnapshot, LocalCopies>();

/** One keyed subtask's task-local copies: where they go, and which checkpoints have one. */
export class LocalCopies {
  readonly dir: string;
  /** Pending checkpoints with a whole copy. */
  readonly #kept = new Set<number>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The copies of the backend that took `snapshot` (registered with register()), if it keeps any. */
  static of(snapshot: KeyedStateSnapshot): LocalCopies | undefined {
    return snapshotsOf.get(snapshot);
  }

  /** `snapshot` was taken by the backend these copies belong to. */
  register(snapshot: KeyedStateSnapshot): void {
    snapshotsOf.set(snapshot, this);
  }

  /** A copy's directory. */
  copyDir(checkpointId: number): string {
    return join(this.dir, `chk-${checkpointId}`);
  }

  /** Checkpoint `checkpointId`'s copy is whole. */
  kept(checkpointId: number): void {
    this.#kept.add(checkpointId);
  }

  /** Checkpoint `checkpointId` completed: when it has a copy, older copies go. */
  complete(checkpointId: number): void {
    const had = this.#kept.has(checkpointId);
    for (const id of [...this.#kept]) if (id <= checkpointId) this.#kept.delete(id);
    if (had) pruneCopies(this.dir, checkpointId);
  }

  /** Checkpoint `checkpointId` was aborted: its copy goes. */
  abort(checkpointId: number): void {
    this.#kept.delete(checkpointId);
    rmSync(this.copyDir(checkpointId), { recursive: true, force: true });
  }

  /** Deletes a copy that could not be completed. */
  async discard(checkpointId: number): Promise<void> {
    await rm(this.copyDir(checkpointId), { recursive: true, force: true });
  }
}
