/**
 * The state file format of the file-system checkpoint storage (little-endian):
 *   0  4 bytes  magic "WSTF"
 *   4  u16      format version (1)
 *   6  u16      header size (48)
 *   8  u64      payload length
 *  16  32 bytes sha256 of the payload
 *  48  payload
 * A handle's `size` is the payload length and its `checksum` the payload's sha256, so a file is
 * checked both against its own header and against what the metadata recorded about it.
 */
import { createHash } from 'node:crypto';
import { open, readFile, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { CorruptCheckpointError } from '../../core/errors.ts';
import { attachedDigest, sha256Of } from '../../core/payload-digest.ts';
import type { StateFileHandle } from '../checkpoint-types.ts';
import { type StorageHooks, writeAtomically } from './atomic-write.ts';
import { errorCode } from './file-system-helpers.ts';

const STATE_FILE_MAGIC = Buffer.from('WSTF', 'ascii');
const STATE_FILE_VERSION = 1;
const STATE_FILE_HEADER_SIZE = 48;

/** Writes `payload` with its header as `name` in `dir`, atomically; the handle's path is `relativePath`. */
export async function writeStateFileIn(
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

interface StateFileHeader {
  readonly headerSize: number;
  readonly payloadLength: number;
  readonly checksum: string;
}

/** Reads a state file and verifies it against its header and its handle. */
export async function readStateFileAt(path: string, handle: StateFileHandle): Promise<Uint8Array> {
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
export async function verifyStateFileAt(path: string, handle: StateFileHandle, full: boolean): Promise<void> {
  await streamPayload(path, handle, full ? () => Promise.resolve() : undefined);
}

/**
 * Writes a state file's payload to `dest` (created or replaced), verified as readStateFileAt
 * verifies it, a slice at a time: no buffer of the file's size, which for files of tens of MB
 * costs more than the copy itself. On any error `dest` is removed and the error thrown.
 */
export async function copyStatePayloadAt(path: string, handle: StateFileHandle, dest: string): Promise<void> {
  let out: FileHandle | undefined;
  try {
    out = await open(dest, 'w');
    const target = out;
    await streamPayload(path, handle, async (part) => {
      let at = 0;
      while (at < part.byteLength) at += (await target.write(part, at, part.byteLength - at)).bytesWritten;
    });
    await out.close();
    out = undefined;
  } catch (e) {
    await out?.close();
    await rm(dest, { force: true });
    throw e;
  }
}

/**
 * Opens a state file and checks its header against its handle; with `sink`, reads the payload in
 * slices, passes each to it and checks the payload's sha256 at the end.
 */
async function streamPayload(path: string, handle: StateFileHandle, sink: ((part: Buffer) => Promise<void>) | undefined): Promise<void> {
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
    if (sink === undefined) return;
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(Math.min(STREAM_SLICE, Math.max(1, header.payloadLength)));
    let position = header.headerSize;
    while (position < size) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, size - position), position);
      if (bytesRead === 0) throw new CorruptCheckpointError(path, 'truncated while being read');
      const part = chunk.subarray(0, bytesRead);
      hash.update(part);
      await sink(part);
      position += bytesRead;
    }
    checkPayloadDigest(path, hash.digest('hex'), handle);
  } finally {
    await fh.close();
  }
}

/** Bytes read per slice when a payload is streamed (verified or copied). */
const STREAM_SLICE = 4 << 20;

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
