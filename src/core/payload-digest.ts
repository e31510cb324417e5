/**
 * SHA-256 digests of state payloads, computed while a payload is produced and carried with it to
 * the storage that writes it, so a large file needs no second hashing pass.
 */

import { createHash, webcrypto } from 'node:crypto';

/** Payloads at least this large are hashed on libuv's thread pool rather than on the calling thread. */
const OFF_THREAD_HASH_BYTES = 1024 * 1024;

const payloadDigests = new WeakMap<Uint8Array, Uint8Array>();

/**
 * Attaches the sha256 of `payload`, computed while it was produced (e.g. frame by frame), to the
 * payload object, so that writing it as a state file needs no hashing pass over the whole of it.
 * The payload must not change before it is written. Returns `payload`.
 */
export function withPayloadDigest<T extends Uint8Array>(payload: T, sha256: Uint8Array): T {
  if (sha256.byteLength !== 32) throw new RangeError(`a sha256 digest has 32 bytes, got ${sha256.byteLength}`);
  payloadDigests.set(payload, sha256);
  return payload;
}

/**
 * The sha256 of a payload. Large payloads are hashed on the thread pool, so a state file of
 * megabytes costs the calling thread (which may be processing records) no long synchronous stretch.
 */
export async function sha256Of(payload: Uint8Array): Promise<Buffer> {
  if (payload.byteLength < OFF_THREAD_HASH_BYTES) return createHash('sha256').update(payload).digest();
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', payload));
}

/** The digest attached by withPayloadDigest, or undefined. */
export function attachedDigest(payload: Uint8Array): Uint8Array | undefined {
  return payloadDigests.get(payload);
}
