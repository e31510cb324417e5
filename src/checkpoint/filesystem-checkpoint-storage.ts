/**
 * Checkpoint and savepoint storage on a local (or locally mounted) file system, in Flink's
 * directory layout:
 *
 *   <state.checkpoints.dir>/<jobId>/
 *     chk-<n>/_metadata   the completed checkpoint n; written last, so its presence marks completion
 *     chk-<n>/<file>      state files exclusive to checkpoint n
 *     shared/             files several checkpoints may reference (incremental snapshots)
 *     taskowned/          files owned by the tasks rather than by any one checkpoint
 *
 *   <savepoint target>/savepoint-<first 6 chars of jobId>-<12 random hex>/
 *     _metadata, <file>…  self-contained: everything a savepoint references lives beside it
 *
 * Every path recorded in metadata is relative — to the job directory for checkpoints, to the
 * savepoint directory for savepoints — so a savepoint directory (or a whole job directory) can
 * be moved or copied and restored from its new place.
 *
 * State file layout (little-endian):
 *   0  4 bytes  magic "WSTF"
 *   4  u16      format version (1)
 *   6  u16      header size (48)
 *   8  u64      payload length
 *  16  32 bytes sha256 of the payload
 *  48  payload
 * A handle's `size` is the payload length and its `checksum` the payload's sha256, so a file is
 * checked both against its own header and against what the metadata recorded about it.
 *
 * `_metadata` is one JSON document: a magic string, a format version, the sha256 of the compact
 * JSON form of the metadata, and the metadata itself. A truncated file fails to parse; an edited
 * one fails the checksum.
 *
 * Durability: every file is written under a temporary name, synced, then renamed into place, so a
 * crash never leaves a partial file under its final name. Before `_metadata` is published, the
 * directories holding the files it references are synced, so metadata that survived a crash
 * never points at state files that did not; after the rename the checkpoint directory is synced
 * so the completion itself survives.
 */

import { createHash, randomBytes } from 'node:crypto';
import { CorruptCheckpointError } from '../core/errors.ts';
import { attachedDigest, sha256Of } from '../core/payload-digest.ts';

export { CorruptCheckpointError } from '../core/errors.ts';
export { withPayloadDigest } from '../core/payload-digest.ts';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  CheckpointMetadata,
  OperatorCheckpointMetadata,
  OperatorSubtaskState,
  StateFileHandle,
} from './checkpoint-types.ts';

/** Name of the file whose presence marks a checkpoint or savepoint directory as complete. */
export const METADATA_FILE_NAME = '_metadata';

const STATE_FILE_MAGIC = Buffer.from('WSTF', 'ascii');
const STATE_FILE_VERSION = 1;
const STATE_FILE_HEADER_SIZE = 48;
const METADATA_MAGIC = 'weir-checkpoint-metadata';
const METADATA_FORMAT_VERSION = 1;
const TEMP_SUFFIX = '.inprogress';
/** Leaves room for the temporary name's prefix and suffix within the usual 255-byte limit. */
const MAX_NAME_BYTES = 200;
/** Referenced files verified at once when checking a checkpoint. */
const VERIFY_CONCURRENCY = 8;
const CHECKPOINT_DIR_PATTERN = /^chk-(\d+)$/;

/**
 * Interception points for tests that simulate a crash midway through a write. They observe
 * and may abort; the real file system is always used.
 */
export interface StorageHooks {
  /**
   * Called once a file's content is written and synced under its temporary name, just before
   * the rename that publishes it. Throwing or rejecting aborts the write as a crash at that point
   * would, except that the temporary file is removed.
   */
  beforeRename?(finalPath: string, tempPath: string): void | Promise<void>;
}

/** Where a checkpoint state file goes: beside `_metadata`, or in the job's shared areas. */
export type StateFileScope = 'exclusive' | 'shared' | 'taskowned';

export interface CheckpointListing {
  readonly checkpointId: number;
  readonly dir: string;
  readonly ok: boolean;
  readonly problem?: string;
}

export interface LoadedCheckpoint {
  readonly metadata: CheckpointMetadata;
  /** The directory the metadata's relative paths resolve against. */
  readonly root: string;
  /** The chk-<n> or savepoint directory itself. */
  readonly dir: string;
}

export interface SavepointWriter {
  readonly dir: string;
  /** Handles are relative to the savepoint directory (the plain `name`). */
  writeStateFile(name: string, payload: Uint8Array): Promise<StateFileHandle>;
  /** Publishes `_metadata`, completing the savepoint; returns the savepoint directory. */
  writeMetadata(m: CheckpointMetadata): Promise<string>;
  /** Removes the savepoint directory, e.g. after the savepoint failed (idempotent). */
  discard(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Checkpoint storage of one job.

export class FileSystemCheckpointStorage {
  /** Absolute path of `<baseDir>/<jobId>`. */
  readonly jobDir: string;
  readonly jobId: string;
  readonly #hooks: StorageHooks;
  #layout: Promise<void> | undefined;

  /**
   * `baseDir` is a path (relative ones resolve against the working directory) or a file:// URI;
   * other schemes are refused with an error naming "state.checkpoints.dir". Nothing is created
   * until the first write.
   */
  constructor(baseDir: string, jobId: string, hooks: StorageHooks = {}) {
    checkJobId(jobId);
    this.jobId = jobId;
    this.jobDir = join(toLocalPath(baseDir, 'value for "state.checkpoints.dir"'), jobId);
    this.#hooks = hooks;
  }

  /** Absolute path of chk-<checkpointId>. */
  checkpointDir(checkpointId: number): string {
    checkCheckpointId(checkpointId);
    return join(this.jobDir, `chk-${checkpointId}`);
  }

  /**
   * Writes one state file of a checkpoint atomically and returns its handle (path relative to
   * the job directory). `name` must be a simple file name. By default the file goes into
   * chk-<n>/ and is removed with the checkpoint; 'shared' and 'taskowned' place it in those
   * job-level directories instead, where the caller owns its lifetime.
   */
  async writeStateFile(
    checkpointId: number,
    name: string,
    payload: Uint8Array,
    options: { scope?: StateFileScope } = {},
  ): Promise<StateFileHandle> {
    checkCheckpointId(checkpointId);
    checkFileName(name);
    const scope = options.scope ?? 'exclusive';
    const folder =
      scope === 'exclusive' ? `chk-${checkpointId}` : scope === 'shared' ? 'shared' : scope === 'taskowned' ? 'taskowned' : undefined;
    if (folder === undefined) throw new Error(`Unknown state file scope '${String(scope)}'`);
    await this.#ensureLayout();
    const dir = join(this.jobDir, folder);
    await mkdir(dir, { recursive: true });
    return writeStateFileIn(dir, `${folder}/${name}`, name, payload, this.#hooks);
  }

  /**
   * Reads a state file and verifies it against its header and its handle. `root` is the
   * directory the handle's path is relative to: the job directory (default) for checkpoints,
   * the savepoint directory for savepoints.
   */
  async readStateFile(handle: StateFileHandle, root: string = this.jobDir): Promise<Uint8Array> {
    return readStateFileAt(resolveHandle(root, handle), handle);
  }

  /**
   * Completes checkpoint `metadata.checkpointId` by publishing its `_metadata` atomically.
   * The metadata must be of kind 'checkpoint' for this job, reference only relative paths, and
   * the checkpoint must not already be complete. Returns the chk-<n> directory.
   */
  async writeMetadata(metadata: CheckpointMetadata): Promise<string> {
    if (metadata.kind !== 'checkpoint') {
      throw new Error(`Checkpoint storage only writes metadata of kind 'checkpoint', got '${String(metadata.kind)}'`);
    }
    if (metadata.jobId !== this.jobId) {
      throw new Error(`Metadata of job ${String(metadata.jobId)} cannot be written into the checkpoints of job ${this.jobId}`);
    }
    const dir = this.checkpointDir(metadata.checkpointId);
    const text = encodeMetadata(metadata);
    await this.#ensureLayout();
    await mkdir(dir, { recursive: true });
    await publishMetadata(dir, text, metadata, this.jobDir, [this.jobDir], this.#hooks);
    return dir;
  }

  /** Removes chk-<n> with everything in it; nothing happens if it is already gone. */
  async discardCheckpoint(checkpointId: number): Promise<void> {
    // A subtask may still be finishing a write into the directory of an aborted checkpoint;
    // rm then meets a file that appeared after it listed the directory, and simply tries again.
    await rm(this.checkpointDir(checkpointId), { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }

  /**
   * Every chk-* directory of this job, newest first, with a verdict: complete means the metadata
   * reads back with a valid checksum, belongs to this checkpoint, and every file it references is
   * present with the recorded size and header. Payload checksums are not recomputed here (that
   * needs reading all state); loadCheckpoint and findLatestCompleteCheckpoint do that.
   */
  async listCheckpoints(): Promise<CheckpointListing[]> {
    const out: CheckpointListing[] = [];
    for (const { checkpointId, dir } of await listCheckpointDirs(this.jobDir)) {
      const verdict = await inspectCheckpoint(dir, checkpointId, false);
      out.push(verdict.ok ? { checkpointId, dir, ok: true } : { checkpointId, dir, ok: false, problem: verdict.problem });
    }
    return out;
  }

  /** Deletes the whole job directory, checkpoints and shared files alike (DELETE_ON_CANCELLATION). */
  async discardAll(): Promise<void> {
    this.#layout = undefined;
    await rm(this.jobDir, { recursive: true, force: true });
  }

  /** Creates the job directory with its shared/ and taskowned/ folders, once. */
  #ensureLayout(): Promise<void> {
    this.#layout ??= (async () => {
      await mkdir(join(this.jobDir, 'shared'), { recursive: true });
      await mkdir(join(this.jobDir, 'taskowned'), { recursive: true });
    })().catch((e: unknown) => {
      this.#layout = undefined;
      throw e;
    });
    return this.#layout;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading and recovery.

/**
 * Reads one state file of a loaded checkpoint or savepoint (`root` as LoadedCheckpoint.root) and
 * verifies it against its header and handle; a missing, truncated or altered file is a
 * CorruptCheckpointError naming it.
 */
export function readStateFile(root: string, handle: StateFileHandle): Promise<Uint8Array> {
  return readStateFileAt(resolveHandle(root, handle), handle);
}

/**
 * Loads the checkpoint or savepoint at `path` (a chk-<n> or savepoint directory, its _metadata
 * file, or a file:// URI of either) and verifies it fully, including every referenced file's
 * payload checksum. Paths of checkpoints resolve against the job directory (the chk-<n>
 * directory's parent), paths of savepoints against the savepoint directory.
 */
export async function loadCheckpoint(path: string): Promise<LoadedCheckpoint> {
  const target = toLocalPath(path, 'checkpoint or savepoint path');
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(target)).isDirectory();
  } catch (e) {
    if (errorCode(e) === 'ENOENT') throw new Error(`Checkpoint or savepoint path ${target} does not exist`);
    throw e;
  }
  let dir: string;
  if (isDirectory) dir = target;
  else if (basename(target) === METADATA_FILE_NAME) dir = dirname(target);
  else throw new Error(`${target} is not a checkpoint or savepoint: expected a chk-<n> or savepoint directory or its ${METADATA_FILE_NAME} file`);

  if (!(await exists(join(dir, METADATA_FILE_NAME)))) {
    const hasCheckpoints = (await listCheckpointDirs(dir)).length > 0;
    const hint = hasCheckpoints ? ' (it holds chk-* directories: pass one of them)' : '';
    throw new Error(`${dir} is not a checkpoint or savepoint directory: no ${METADATA_FILE_NAME}${hint}`);
  }
  const { metadata, root } = await verifyDirectory(dir, true);
  return { metadata, root, dir };
}

/**
 * The newest complete checkpoint of a job directory (a path or file:// URI), fully verified.
 * Newer chk-* directories that are partial (no _metadata), corrupt, or whose metadata names a
 * different checkpoint are skipped and reported in `skipped`, newest first, so recovery falls
 * back to the previous checkpoint. Other I/O errors (permissions, device errors) are thrown
 * rather than silently skipped. undefined when no checkpoint is complete.
 */
export async function findLatestCompleteCheckpoint(
  jobDir: string,
): Promise<(LoadedCheckpoint & { skipped: { dir: string; problem: string }[] }) | undefined> {
  const skipped: { dir: string; problem: string }[] = [];
  for (const { checkpointId, dir } of await listCheckpointDirs(toLocalPath(jobDir, 'job checkpoint directory'))) {
    const verdict = await inspectCheckpoint(dir, checkpointId, true);
    if (verdict.ok) return { metadata: verdict.metadata, root: verdict.root, dir, skipped };
    skipped.push({ dir, problem: verdict.problem });
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Savepoints.

/**
 * Creates `savepoint-<first 6 of jobId>-<12 random hex>` under `targetDir` (a path or file://
 * URI; created if missing) and returns a writer rooted there. Handles it returns are relative to
 * the savepoint directory, so the directory is self-contained and relocatable.
 */
export async function createSavepointWriter(targetDir: string, jobId: string, hooks: StorageHooks = {}): Promise<SavepointWriter> {
  checkJobId(jobId);
  const target = toLocalPath(targetDir, 'savepoint target directory ("state.savepoints.dir")');
  await mkdir(target, { recursive: true });
  const dir = join(target, `savepoint-${jobId.slice(0, 6)}-${randomBytes(6).toString('hex')}`);
  // Not recursive: an existing directory of that name is an error rather than shared.
  await mkdir(dir);
  return new FileSystemSavepointWriter(dir, target, jobId, hooks);
}

/**
 * Writes one state file of a savepoint into its directory, which must exist (a subtask's side of
 * a savepoint whose directory the job created with createSavepointWriter). The handle's path is
 * the plain `name`, relative to the savepoint directory.
 */
export async function writeSavepointStateFile(savepointDir: string, name: string, payload: Uint8Array, hooks: StorageHooks = {}): Promise<StateFileHandle> {
  checkFileName(name);
  const dir = toLocalPath(savepointDir, 'savepoint directory');
  return writeStateFileIn(dir, name, name, payload, hooks);
}

class FileSystemSavepointWriter implements SavepointWriter {
  readonly dir: string;
  readonly #parent: string;
  readonly #jobId: string;
  readonly #hooks: StorageHooks;

  constructor(dir: string, parent: string, jobId: string, hooks: StorageHooks) {
    this.dir = dir;
    this.#parent = parent;
    this.#jobId = jobId;
    this.#hooks = hooks;
  }

  async writeStateFile(name: string, payload: Uint8Array): Promise<StateFileHandle> {
    checkFileName(name);
    return writeStateFileIn(this.dir, name, name, payload, this.#hooks);
  }

  async writeMetadata(m: CheckpointMetadata): Promise<string> {
    if (m.kind !== 'savepoint') {
      throw new Error(`A savepoint writer only writes metadata of kind 'savepoint', got '${String(m.kind)}'`);
    }
    if (m.jobId !== this.#jobId) {
      throw new Error(`Metadata of job ${String(m.jobId)} cannot be written into a savepoint of job ${this.#jobId}`);
    }
    const text = encodeMetadata(m);
    await publishMetadata(this.dir, text, m, this.dir, [this.#parent], this.#hooks);
    return this.dir;
  }

  async discard(): Promise<void> {
    // Subtasks of a failed savepoint may still be writing into it: rm retries when it meets a file that appeared meanwhile.
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
  }
}

// ---------------------------------------------------------------------------------------------
// Writing.

async function writeStateFileIn(
  dir: string,
  relativePath: string,
  name: string,
  payload: Uint8Array,
  hooks: StorageHooks,
): Promise<StateFileHandle> {
  const known = attachedDigest(payload);
  const digest = known !== undefined ? Buffer.from(known) : await sha256Of(payload);
  const header = Buffer.alloc(STATE_FILE_HEADER_SIZE);
  STATE_FILE_MAGIC.copy(header, 0);
  header.writeUInt16LE(STATE_FILE_VERSION, 4);
  header.writeUInt16LE(STATE_FILE_HEADER_SIZE, 6);
  header.writeBigUInt64LE(BigInt(payload.byteLength), 8);
  digest.copy(header, 16);
  await writeAtomically(dir, name, [header, payload], hooks);
  return { path: relativePath, size: payload.byteLength, checksum: digest.toString('hex') };
}

/**
 * Publishes `_metadata` in `dir`. The directories of all referenced files, and `extraDirs`
 * (where `dir`'s own entry lives), are synced first so the metadata never outlives what it
 * points at; `dir` is synced afterwards so the completion is durable. An existing `_metadata`
 * is never replaced: a completed checkpoint or savepoint is immutable.
 */
async function publishMetadata(
  dir: string,
  text: string,
  metadata: CheckpointMetadata,
  root: string,
  extraDirs: readonly string[],
  hooks: StorageHooks,
): Promise<void> {
  const finalPath = join(dir, METADATA_FILE_NAME);
  if (await exists(finalPath)) {
    throw new Error(`${finalPath} already exists: a completed checkpoint or savepoint is never overwritten`);
  }
  const dirs = new Set<string>([dir, ...extraDirs]);
  for (const handle of referencedFiles(metadata)) dirs.add(dirname(resolveHandle(root, handle)));
  for (const d of dirs) {
    try {
      await syncDirectory(d);
    } catch (e) {
      if (errorCode(e) === 'ENOENT') {
        throw new Error(`Cannot complete ${dir}: directory ${d} of referenced state files does not exist`, { cause: e });
      }
      throw e;
    }
  }
  await writeAtomically(dir, METADATA_FILE_NAME, [Buffer.from(text, 'utf8')], hooks);
  await syncDirectory(dir);
}

/** Temporary name, write, datasync, close, rename; the temporary file is removed on failure. */
async function writeAtomically(dir: string, name: string, chunks: readonly Uint8Array[], hooks: StorageHooks): Promise<string> {
  const finalPath = join(dir, name);
  const tempPath = join(dir, `.${name}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
  let published = false;
  try {
    const fh = await open(tempPath, 'wx');
    try {
      for (const chunk of chunks) await writeFully(fh, chunk);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await hooks.beforeRename?.(finalPath, tempPath);
    await rename(tempPath, finalPath);
    published = true;
  } finally {
    if (!published) await unlink(tempPath).catch(() => undefined);
  }
  return finalPath;
}

async function writeFully(fh: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    const { bytesWritten } = await fh.write(data, offset, data.byteLength - offset);
    offset += bytesWritten;
  }
}

/** Makes a directory's entries (created or renamed files) durable; a no-op where unsupported. */
async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // Some platforms cannot open or sync directories; there the rename is all we can do.
    const code = errorCode(e);
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'ENOTSUP') throw e;
  } finally {
    await fh?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Reading and verifying state files.

interface StateFileHeader {
  readonly headerSize: number;
  readonly payloadLength: number;
  readonly checksum: string;
}

async function readStateFileAt(path: string, handle: StateFileHandle): Promise<Uint8Array> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    throw missingFileError(path, e);
  }
  const header = checkHeader(path, data, data.byteLength, handle);
  const payload = new Uint8Array(data.buffer, data.byteOffset + header.headerSize, header.payloadLength);
  checkPayloadDigest(path, (await sha256Of(payload)).toString('hex'), handle);
  return payload;
}

/** Checks a file's header and size against its handle; with `full`, also hashes the payload. */
async function verifyStateFileAt(path: string, handle: StateFileHandle, full: boolean): Promise<void> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw missingFileError(path, e);
  }
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(Math.min(size, STATE_FILE_HEADER_SIZE));
    await readFully(fh, head, 0);
    const header = checkHeader(path, head, size, handle);
    if (!full) return;
    const hash = createHash('sha256');
    const chunk = Buffer.alloc(Math.min(1 << 20, Math.max(1, header.payloadLength)));
    let position = header.headerSize;
    while (position < size) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - position), position);
      if (bytesRead === 0) throw new CorruptCheckpointError(path, 'truncated while being read');
      hash.update(chunk.subarray(0, bytesRead));
      position += bytesRead;
    }
    checkPayloadDigest(path, hash.digest('hex'), handle);
  } finally {
    await fh.close();
  }
}

async function readFully(fh: FileHandle, into: Buffer, position: number): Promise<void> {
  let offset = 0;
  while (offset < into.length) {
    const { bytesRead } = await fh.read(into, offset, into.length - offset, position + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
}

function missingFileError(path: string, e: unknown): unknown {
  const code = errorCode(e);
  if (code === 'ENOENT') return new CorruptCheckpointError(path, 'missing: the metadata references it but it does not exist', { cause: e });
  if (code === 'EISDIR') return new CorruptCheckpointError(path, 'is a directory, not a state file', { cause: e });
  return e;
}

/** `head` holds the first bytes of the file (at least the header, when the file has that many). */
function checkHeader(path: string, head: Buffer, fileSize: number, handle: StateFileHandle): StateFileHeader {
  const magicBytes = Math.min(fileSize, STATE_FILE_MAGIC.length);
  if (!head.subarray(0, magicBytes).equals(STATE_FILE_MAGIC.subarray(0, magicBytes))) {
    throw new CorruptCheckpointError(path, 'not a state file (bad magic number)');
  }
  if (fileSize < 8) {
    throw new CorruptCheckpointError(path, `truncated: ${fileSize} bytes, shorter than the ${STATE_FILE_HEADER_SIZE}-byte header`);
  }
  const version = head.readUInt16LE(4);
  if (version !== STATE_FILE_VERSION) throw new CorruptCheckpointError(path, `unsupported state file format version ${version}`);
  const headerSize = head.readUInt16LE(6);
  if (headerSize !== STATE_FILE_HEADER_SIZE) throw new CorruptCheckpointError(path, `bad header size ${headerSize}`);
  if (fileSize < headerSize) {
    throw new CorruptCheckpointError(path, `truncated: ${fileSize} bytes, shorter than the ${headerSize}-byte header`);
  }
  const declared = head.readBigUInt64LE(8);
  if (declared > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptCheckpointError(path, `implausible payload length ${declared}`);
  const payloadLength = Number(declared);
  const present = fileSize - headerSize;
  if (present < payloadLength) {
    throw new CorruptCheckpointError(path, `truncated: the header declares ${payloadLength} payload bytes but only ${present} are present`);
  }
  if (present > payloadLength) {
    throw new CorruptCheckpointError(path, `${present - payloadLength} unexpected bytes after the ${payloadLength}-byte payload`);
  }
  if (handle.size !== payloadLength) {
    throw new CorruptCheckpointError(path, `size mismatch: the metadata records ${handle.size} payload bytes, the file holds ${payloadLength}`);
  }
  const checksum = head.subarray(16, 48).toString('hex');
  if (checksum !== handle.checksum) {
    throw new CorruptCheckpointError(path, `checksum mismatch: the metadata records sha256 ${handle.checksum}, the file header ${checksum}`);
  }
  return { headerSize, payloadLength, checksum };
}

function checkPayloadDigest(path: string, actual: string, handle: StateFileHandle): void {
  if (actual !== handle.checksum) {
    throw new CorruptCheckpointError(path, `checksum mismatch: the payload hashes to sha256 ${actual}, expected ${handle.checksum}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata encoding and verification.

function encodeMetadata(metadata: CheckpointMetadata): string {
  const body = JSON.stringify(metadata);
  // Read back what would be stored, so metadata that could not be loaded is never written.
  try {
    decodeMetadata(JSON.parse(body) as unknown);
  } catch (e) {
    throw new Error(`Invalid checkpoint metadata: ${errorMessage(e)}`, { cause: e });
  }
  const checksum = createHash('sha256').update(body, 'utf8').digest('hex');
  return (
    `{\n  "magic": ${JSON.stringify(METADATA_MAGIC)},\n  "formatVersion": ${METADATA_FORMAT_VERSION},\n` +
    `  "sha256": "${checksum}",\n  "metadata": ${body}\n}\n`
  );
}

async function readMetadataFile(path: string): Promise<CheckpointMetadata> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (errorCode(e) === 'ENOENT') throw new CorruptCheckpointError(path, 'missing', { cause: e });
    throw e;
  }
  if (text.length === 0) throw new CorruptCheckpointError(path, 'empty: the file is partial');
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch (e) {
    // The parser's message may quote the file, newlines included; keep the report on one line.
    const detail = errorMessage(e).replace(/\s+/g, ' ');
    throw new CorruptCheckpointError(path, `not valid JSON, so the file is partial or was edited (${detail})`, { cause: e });
  }
  if (!isRecord(envelope) || envelope['magic'] !== METADATA_MAGIC) {
    throw new CorruptCheckpointError(path, 'not a checkpoint metadata file (bad magic)');
  }
  if (envelope['formatVersion'] !== METADATA_FORMAT_VERSION) {
    throw new CorruptCheckpointError(path, `unsupported metadata format version ${JSON.stringify(envelope['formatVersion'])}`);
  }
  const recorded = envelope['sha256'];
  if (typeof recorded !== 'string' || !('metadata' in envelope)) {
    throw new CorruptCheckpointError(path, 'incomplete: the checksum or the metadata is absent');
  }
  // JSON.stringify of parsed JSON reproduces the compact form that was hashed at write time.
  const actual = createHash('sha256').update(JSON.stringify(envelope['metadata']), 'utf8').digest('hex');
  if (actual !== recorded) {
    throw new CorruptCheckpointError(path, `checksum mismatch: the metadata was changed after it was written (recorded sha256 ${recorded}, content ${actual})`);
  }
  try {
    return decodeMetadata(envelope['metadata']);
  } catch (e) {
    throw new CorruptCheckpointError(path, `malformed metadata: ${errorMessage(e)}`, { cause: e });
  }
}

/**
 * Validates parsed metadata and rebuilds it in its in-memory shape: JSON has no `undefined`,
 * so an absent `uid` and `null` subtasks (what JSON.stringify makes of undefined array slots)
 * turn back into `undefined`.
 */
function decodeMetadata(v: unknown): CheckpointMetadata {
  const m = record(v, 'metadata');
  if (m['version'] !== 1) throw new Error(`metadata.version is ${JSON.stringify(m['version'])}, expected 1`);
  const kind = m['kind'];
  if (kind !== 'checkpoint' && kind !== 'savepoint') throw new Error(`metadata.kind is ${JSON.stringify(kind)}`);
  return {
    version: 1,
    jobId: str(m['jobId'], 'metadata.jobId'),
    checkpointId: integer(m['checkpointId'], 'metadata.checkpointId', 1),
    timestamp: finite(m['timestamp'], 'metadata.timestamp'),
    kind,
    operators: array(m['operators'], 'metadata.operators').map((o, i) => decodeOperator(o, `operators[${i}]`)),
  };
}

function decodeOperator(v: unknown, at: string): OperatorCheckpointMetadata {
  const o = record(v, at);
  const uid = o['uid'];
  if (uid !== undefined && uid !== null && typeof uid !== 'string') throw new Error(`${at}.uid is not a string`);
  // Absent in metadata written before state names were recorded: read as none.
  const names = o['stateNames'];
  const stateNames = names === undefined || names === null ? [] : array(names, `${at}.stateNames`).map((n, i) => str(n, `${at}.stateNames[${i}]`));
  return {
    operatorId: str(o['operatorId'], `${at}.operatorId`),
    uid: typeof uid === 'string' ? uid : undefined,
    name: str(o['name'], `${at}.name`),
    parallelism: integer(o['parallelism'], `${at}.parallelism`, 1),
    maxParallelism: integer(o['maxParallelism'], `${at}.maxParallelism`, 1),
    stateNames,
    subtasks: array(o['subtasks'], `${at}.subtasks`).map((s, i) =>
      s === null || s === undefined ? undefined : decodeSubtask(s, `${at}.subtasks[${i}]`),
    ),
  };
}

function decodeSubtask(v: unknown, at: string): OperatorSubtaskState {
  const s = record(v, at);
  const files = array(s['files'], `${at}.files`).map((f, i) => decodeHandle(f, `${at}.files[${i}]`));
  const base = { operatorId: str(s['operatorId'], `${at}.operatorId`), files };
  return 'inline' in s && s['inline'] !== undefined ? { ...base, inline: s['inline'] } : base;
}

function decodeHandle(v: unknown, at: string): StateFileHandle {
  const h = record(v, at);
  const path = str(h['path'], `${at}.path`);
  if (!isSafeRelativePath(path)) throw new Error(`${at}.path ${JSON.stringify(path)} is not a relative path inside the checkpoint`);
  const checksum = str(h['checksum'], `${at}.checksum`);
  if (!/^[0-9a-f]{64}$/.test(checksum)) throw new Error(`${at}.checksum is not a sha256 hex digest`);
  return { path, size: integer(h['size'], `${at}.size`, 0), checksum };
}

function record(v: unknown, at: string): Record<string, unknown> {
  if (!isRecord(v)) throw new Error(`${at} is not an object`);
  return v;
}

function array(v: unknown, at: string): unknown[] {
  if (!Array.isArray(v)) throw new Error(`${at} is not an array`);
  return v;
}

function str(v: unknown, at: string): string {
  if (typeof v !== 'string') throw new Error(`${at} is not a string`);
  return v;
}

function integer(v: unknown, at: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new Error(`${at} is not an integer ≥ ${min}`);
  return v;
}

function finite(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${at} is not a finite number`);
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every file the metadata references, each path once; the same path with differing size or checksum is corrupt. */
function referencedFiles(metadata: CheckpointMetadata): StateFileHandle[] {
  const byPath = new Map<string, StateFileHandle>();
  for (const op of metadata.operators) {
    for (const subtask of op.subtasks) {
      for (const handle of subtask?.files ?? []) {
        const seen = byPath.get(handle.path);
        if (seen === undefined) byPath.set(handle.path, handle);
        else if (seen.size !== handle.size || seen.checksum !== handle.checksum) {
          throw new Error(`${handle.path} is referenced twice with different sizes or checksums`);
        }
      }
    }
  }
  return [...byPath.values()];
}

// ---------------------------------------------------------------------------------------------
// Checkpoint directories.

/**
 * Reads and verifies the metadata in `dir` and checks every referenced file (payload checksums
 * only with `full`). Checkpoint paths resolve against the parent directory, savepoint paths
 * against `dir` itself.
 */
async function verifyDirectory(dir: string, full: boolean): Promise<{ metadata: CheckpointMetadata; root: string }> {
  const metadataPath = join(dir, METADATA_FILE_NAME);
  const metadata = await readMetadataFile(metadataPath);
  const root = metadata.kind === 'checkpoint' ? dirname(dir) : dir;
  let files: StateFileHandle[];
  try {
    files = referencedFiles(metadata);
  } catch (e) {
    throw new CorruptCheckpointError(metadataPath, `malformed metadata: ${errorMessage(e)}`, { cause: e });
  }
  await forEachInOrder(files, VERIFY_CONCURRENCY, (h) => verifyStateFileAt(resolveHandle(root, h), h, full));
  return { metadata, root };
}

/** Whether chk-<checkpointId> at `dir` is a usable checkpoint, and if not, why. */
async function inspectCheckpoint(
  dir: string,
  checkpointId: number,
  full: boolean,
): Promise<{ ok: true; metadata: CheckpointMetadata; root: string } | { ok: false; problem: string }> {
  if (!(await exists(join(dir, METADATA_FILE_NAME)))) {
    return { ok: false, problem: `no ${METADATA_FILE_NAME}: the checkpoint did not complete` };
  }
  let verified: { metadata: CheckpointMetadata; root: string };
  try {
    verified = await verifyDirectory(dir, full);
  } catch (e) {
    if (e instanceof CorruptCheckpointError) return { ok: false, problem: e.message };
    throw e;
  }
  const { metadata } = verified;
  if (metadata.kind !== 'checkpoint') {
    return { ok: false, problem: `${METADATA_FILE_NAME} describes a ${metadata.kind}, not a checkpoint` };
  }
  if (metadata.checkpointId !== checkpointId) {
    return { ok: false, problem: `${METADATA_FILE_NAME} describes checkpoint ${metadata.checkpointId}, not ${checkpointId}` };
  }
  return { ok: true, ...verified };
}

/** chk-<n> subdirectories of `jobDir`, newest first; none when `jobDir` does not exist. */
async function listCheckpointDirs(jobDir: string): Promise<{ checkpointId: number; dir: string }[]> {
  let entries;
  try {
    entries = await readdir(jobDir, { withFileTypes: true });
  } catch (e) {
    const code = errorCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
  const out: { checkpointId: number; dir: string }[] = [];
  for (const entry of entries) {
    const match = CHECKPOINT_DIR_PATTERN.exec(entry.name);
    if (match === null || !entry.isDirectory()) continue;
    const checkpointId = Number(match[1]);
    if (Number.isSafeInteger(checkpointId)) out.push({ checkpointId, dir: join(jobDir, entry.name) });
  }
  return out.sort((a, b) => b.checkpointId - a.checkpointId);
}

/**
 * Runs `fn` over `items` with bounded concurrency; on failure, the error of the earliest failing
 * item (in order) is thrown, so reports do not depend on timing more than necessary.
 */
async function forEachInOrder<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: { index: number; error: unknown }[] = [];
  const worker = async (): Promise<void> => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        await fn(items[index]!);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failures.length > 0) throw failures.reduce((a, b) => (b.index < a.index ? b : a)).error;
}

// ---------------------------------------------------------------------------------------------
// Paths and names.

/**
 * A local absolute path from a path or file:// URI. Other schemes are refused: only local (or
 * locally mounted) file systems are supported. Single-letter schemes are left alone so that
 * Windows drive letters read as paths.
 */
function toLocalPath(value: string, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new Error(`Invalid ${what}: the path is empty`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):/.exec(value)?.[1];
  if (scheme === undefined) return resolve(value);
  if (scheme.toLowerCase() !== 'file') {
    throw new Error(`Invalid ${what} '${value}': unsupported scheme '${scheme}', only local paths and file:// URIs are supported`);
  }
  try {
    return resolve(fileURLToPath(value));
  } catch (e) {
    throw new Error(`Invalid ${what} '${value}': not a valid file URI (${errorMessage(e)})`, { cause: e });
  }
}

/** The absolute path of a handle under `root`; refuses paths that would leave it. */
function resolveHandle(root: string, handle: StateFileHandle): string {
  if (!isSafeRelativePath(handle.path)) {
    throw new Error(`State file path ${JSON.stringify(handle.path)} is not a relative path inside the checkpoint`);
  }
  return join(root, ...handle.path.split('/'));
}

/** Relative, '/'-separated, no empty, '.' or '..' segments, no backslashes or NULs, no drive letter. */
function isSafeRelativePath(path: string): boolean {
  if (typeof path !== 'string' || path.length === 0 || path.includes('\\') || path.includes('\0')) return false;
  if (path.startsWith('/') || /^[a-zA-Z]:/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function checkFileName(name: string): void {
  const problem =
    typeof name !== 'string' || name.length === 0
      ? 'it is empty'
      : name.includes('/') || name.includes('\\')
        ? 'it contains a path separator'
        : name.includes('..')
          ? "it contains '..'"
          : name.includes('\0')
            ? 'it contains a NUL character'
            : name === '.' || name === METADATA_FILE_NAME
              ? 'it is reserved'
              : Buffer.byteLength(name) > MAX_NAME_BYTES
                ? `it is longer than ${MAX_NAME_BYTES} bytes`
                : undefined;
  if (problem !== undefined) throw new Error(`Invalid state file name ${JSON.stringify(name)}: ${problem}; a simple file name is required`);
}

function checkJobId(jobId: string): void {
  if (typeof jobId !== 'string' || jobId.length === 0 || jobId.includes('/') || jobId.includes('\\') || jobId.includes('\0') || jobId === '.' || jobId === '..') {
    throw new Error(`Invalid job id ${JSON.stringify(jobId)}: it names a directory and must be a simple file name`);
  }
}

function checkCheckpointId(checkpointId: number): void {
  if (!Number.isSafeInteger(checkpointId) || checkpointId < 1) {
    throw new Error(`Invalid checkpoint id ${String(checkpointId)}: checkpoint ids are integers starting at 1`);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (errorCode(e) === 'ENOENT') return false;
    throw e;
  }
}

function errorCode(e: unknown): string | undefined {
  return isRecord(e) && typeof e['code'] === 'string' ? e['code'] : undefined;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
