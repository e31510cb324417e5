/** Frames of keyed state file format 1: MessagePack arrays, still read (see keyed-state-file-format.ts). */
import type { StateKind } from '../../../api/state.ts';
import { CorruptCheckpointError } from '../../../core/errors.ts';
import { canonicalKey, keyGroupRangeContains, type PrimitiveKey } from '../../../core/key-group.ts';
import { decodeValue } from '../../../core/record-codec.ts';
import {
  FRAME_END,
  FRAME_ENTRIES,
  FRAME_STATE,
  FRAME_TIMERS,
  KIND_CODES,
  isKeyGroup,
  restoredTimer,
  type FrameParser,
} from './keyed-state-file-format.ts';
import type { RestoreCollector } from './restore-collector.ts';

const KINDS: ReadonlySet<string> = new Set<StateKind>(KIND_CODES);

/** Frames of format 1 (MessagePack). */
export function frameParserV1(path: string, payload: Uint8Array, into: RestoreCollector, corrupt: (problem: string, cause?: unknown) => Error): FrameParser {
  const declared = new Map<string, StateKind>();
  const { range } = into;
  return (start, end, at, counts) => {
    let frame: unknown;
    try {
      frame = decodeValue(payload.subarray(start, end));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw corrupt(`${at} cannot be decoded: ${message}`, error);
    }
    if (!Array.isArray(frame) || typeof frame[0] !== 'number') throw corrupt(`${at} is malformed (not a keyed state frame)`);
    switch (frame[0]) {
      case FRAME_STATE: {
        const [, name, kind] = frame as unknown[];
        if (frame.length !== 3 || typeof name !== 'string' || typeof kind !== 'string' || !KINDS.has(kind)) {
          throw corrupt(`${at} is a malformed state declaration`);
        }
        into.declare(name, kind as StateKind, path, corrupt);
        declared.set(name, kind as StateKind);
        return false;
      }
      case FRAME_ENTRIES: {
        const [, name, keyGroup, rows] = frame as unknown[];
        if (frame.length !== 4 || typeof name !== 'string' || !isKeyGroup(keyGroup) || !Array.isArray(rows)) {
          throw corrupt(`${at} is a malformed entries frame`);
        }
        const kind = declared.get(name);
        if (kind === undefined) throw corrupt(`${at} holds entries of state '${name}', which the file does not declare`);
        counts.entries += rows.length;
        if (!keyGroupRangeContains(range, keyGroup)) return false;
        const { sink } = into;
        const flat = sink === undefined ? into.part(name, keyGroup) : undefined;
        for (const row of rows) {
          if (!Array.isArray(row) || row.length !== 2) throw corrupt(`${at}: an entry of state '${name}' is not a [key, value] pair`);
          const value = restoredValueV1(kind, row[1] as unknown, name, (problem) => corrupt(`${at}: ${problem}`));
          if (flat !== undefined) {
            flat.push(row[0] as unknown, value);
            continue;
          }
          try {
            sink!.add(name, kind, keyGroup, row[0] as unknown, value);
          } catch (error) {
            if (error instanceof CorruptCheckpointError) throw error;
            throw corrupt(`${at}: an entry of state '${name}' cannot be restored: ${error instanceof Error ? error.message : String(error)}`, error);
          }
        }
        return false;
      }
      case FRAME_TIMERS: {
        const [, rows] = frame as unknown[];
        if (frame.length !== 2 || !Array.isArray(rows)) throw corrupt(`${at} is a malformed timers frame`);
        counts.timers += rows.length;
        for (const row of rows) {
          const timer = restoredTimer(row);
          if (timer === undefined) throw corrupt(`${at} holds a malformed timer`);
          if (keyGroupRangeContains(range, timer.keyGroup)) into.timers.push(timer);
        }
        return false;
      }
      case FRAME_END: {
        const [, frames, entries, timers] = frame as unknown[];
        if (frame.length !== 4) throw corrupt(`${at} is a malformed end frame`);
        if (frames !== counts.frames || entries !== counts.entries || timers !== counts.timers) {
          throw corrupt(
            `the end frame records ${String(frames)} frames, ${String(entries)} entries and ` +
              `${String(timers)} timers, but the file holds ${counts.frames}, ${counts.entries} and ${counts.timers}`,
          );
        }
        return true;
      }
      default:
        throw corrupt(`${at} has unknown frame type ${String(frame[0])}`);
    }
  };
}

/** A format 1 value as restore() takes it: map states get back their Map of canonical key → [key, value]. */
function restoredValueV1(kind: StateKind, value: unknown, name: string, corrupt: (problem: string) => Error): unknown {
  switch (kind) {
    case 'list':
      if (!Array.isArray(value)) throw corrupt(`a value of list state '${name}' is not an array`);
      return value;
    case 'map': {
      if (!Array.isArray(value)) throw corrupt(`a value of map state '${name}' is not an array of [key, value] pairs`);
      const map = new Map<PrimitiveKey, [unknown, unknown]>();
      for (const pair of value as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw corrupt(`a value of map state '${name}' is not an array of [key, value] pairs`);
        }
        let canonical: PrimitiveKey;
        try {
          canonical = canonicalKey(pair[0], `map state '${name}'`);
        } catch (error) {
          throw corrupt(`map state '${name}' holds an invalid user key (${error instanceof Error ? error.message : String(error)})`);
        }
        map.set(canonical, [pair[0] as unknown, pair[1] as unknown]);
      }
      return map;
    }
    default:
      return value;
  }
}
