/**
 * The keyed state file format of the heap state backend.
 *
 * Payload layout (little-endian):
 *   0  4 bytes  magic "WKSF"
 *   4  u16      format version (2; version 1 files are still read)
 *   6  u16      zero
 *   8  frames, each [u32 length][u8 type][body]
 *
 * Frames (values in state-codec.ts's encoding):
 *   STATE    u8 kind, name                  a state: every file declares all states first
 *   ENTRIES  u32 state, u32 keyGroup, u32 n, n × (key, value)
 *                                           entries of one state (its index among the file's
 *                                           declarations) in one key group; a key group may span
 *                                           several frames (and files). Values are the stored
 *                                           representation, except that a map state's value is an
 *                                           array of [userKey, userValue] pairs
 *   SCATTERED u32 n, n × (u32 state, u32 keyGroup, u32 length, key, value)
 *                                           entries of any states and key groups, each `length`
 *                                           bytes: old values the snapshot saved for key groups
 *                                           the writer had not reached (KeyedStateSnapshot.takeSaved)
 *   TIMERS   u32 n, n × (u8 domain, key, u32 keyGroup, f64 timestamp)
 *                                           keyed timers; domain 0 = event, 1 = processing
 *   END      u32 frames, u32 entries, u32 timers
 *                                           end of file: the number of frames before it and the
 *                                           entries and timers they hold
 * The end frame makes a file truncated at a frame boundary detectable by itself.
 *
 * Version 1 framed MessagePack arrays ([1, name, kind], [2, name, keyGroup, [[key, value], …]],
 * [3, [[domain, key, keyGroup, timestamp], …]], [4, frames, entries, timers]) the same way,
 * without the type byte.
 */

import { canonicalKey, type PrimitiveKey } from '../../../core/key-group.ts';
import type { StateKind } from '../../../api/state.ts';
import type { RestoredTimer, TimeDomain } from '../../timer-snapshot.ts';

export const MAGIC = [0x57, 0x4b, 0x53, 0x46]; // "WKSF"
export const FORMAT_VERSION = 2;
export const FORMAT_VERSION_1 = 1;
export const HEADER_BYTES = 8;
export const LENGTH_BYTES = 4;
export const MAX_FRAME_BYTES = 0xffffffff;

export const FRAME_STATE = 1;
export const FRAME_ENTRIES = 2;
export const FRAME_TIMERS = 3;
export const FRAME_END = 4;
export const FRAME_SCATTERED = 5;

export const DOMAIN_EVENT = 0;
export const DOMAIN_PROCESSING = 1;

export const KIND_CODES: readonly StateKind[] = ['value', 'list', 'map', 'reducing', 'aggregating'];

/** Parses the frame body payload[start, end) of one file; returns true for the end frame. */
export type FrameParser = (start: number, end: number, at: string, counts: { frames: number; entries: number; timers: number }) => boolean;

export function isKeyGroup(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** A timer row [domain, key, keyGroup, timestamp] as restore takes it; undefined when malformed. */
export function restoredTimer(row: unknown): RestoredTimer<unknown> | undefined {
  if (!Array.isArray(row) || row.length !== 4) return undefined;
  const [domainCode, key, keyGroup, timestamp] = row as unknown[];
  const domain: TimeDomain | undefined =
    domainCode === DOMAIN_EVENT ? 'event' : domainCode === DOMAIN_PROCESSING ? 'processing' : undefined;
  if (domain === undefined || !isKeyGroup(keyGroup) || typeof timestamp !== 'number') return undefined;
  let canonical: PrimitiveKey;
  try {
    canonical = canonicalKey(key);
  } catch {
    return undefined;
  }
  return { domain, key, keyGroup, timestamp, canonical };
}
