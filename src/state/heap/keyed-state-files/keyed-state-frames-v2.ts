/** Frames of keyed state file format 2 (see keyed-state-file-format.ts). */
import type { StateKind } from '../../../api/state.ts';
import { CorruptCheckpointError } from '../../../core/errors.ts';
import { keyGroupRangeContains } from '../../../core/key-group.ts';
import { ByteReader, readStored, readValue } from '../../state-codec.ts';
import {
  FRAME_END,
  FRAME_ENTRIES,
  FRAME_SCATTERED,
  FRAME_STATE,
  FRAME_TIMERS,
  KIND_CODES,
  restoredTimer,
  type FrameParser,
} from './keyed-state-file-format.ts';
import type { RestoreCollector } from './restore-collector.ts';

export function frameParser(path: string, payload: Uint8Array, into: RestoreCollector, corrupt: (problem: string, cause?: unknown) => Error): FrameParser {
  const declared: { name: string; kind: StateKind }[] = [];
  const r = new ByteReader(payload);
  const { range, sink } = into;
  return (start, end, at, counts) => {
    r.pos = start + 1;
    r.end = end;
    const type = payload[start]!;
    try {
      switch (type) {
        case FRAME_STATE: {
          const kind = KIND_CODES[r.u8()];
          const name = readValue(r);
          if (kind === undefined || typeof name !== 'string') throw corrupt(`${at} is a malformed state declaration`);
          into.declare(name, kind, path, corrupt);
          declared.push({ name, kind });
          break;
        }
        case FRAME_ENTRIES: {
          const index = r.u32();
          const keyGroup = r.u32();
          const n = r.u32();
          const state = declared[index];
          if (state === undefined) throw corrupt(`${at} holds entries of state ${index}, which the file does not declare`);
          counts.entries += n;
          if (!keyGroupRangeContains(range, keyGroup)) return false;
          r.need(2 * n);
          const kind = state.kind;
          if (sink !== undefined) {
            for (let i = 0; i < n; i++) sink.read(state.name, kind, keyGroup, r);
            break;
          }
          const flat = into.part(state.name, keyGroup);
          for (let i = 0; i < n; i++) {
            const key = readValue(r);
            flat.push(key, readStored(r, kind));
          }
          break;
        }
        case FRAME_SCATTERED: {
          const n = r.u32();
          r.need(14 * n); // every entry takes at least 12 bytes of header and two of key and value
          counts.entries += n;
          const end = r.end;
          for (let i = 0; i < n; i++) {
            const index = r.u32();
            const keyGroup = r.u32();
            const length = r.u32();
            r.need(length);
            const state = declared[index];
            if (state === undefined) throw corrupt(`${at} holds entries of state ${index}, which the file does not declare`);
            const entryEnd = r.pos + length;
            if (!keyGroupRangeContains(range, keyGroup)) {
              r.pos = entryEnd;
              continue;
            }
            r.end = entryEnd;
            if (sink !== undefined) sink.read(state.name, state.kind, keyGroup, r);
            else {
              const key = readValue(r);
              into.part(state.name, keyGroup).push(key, readStored(r, state.kind));
            }
            if (r.pos !== entryEnd) throw corrupt(`${at}: entry ${i} holds ${entryEnd - r.pos} bytes more than its key and value`);
            r.end = end;
          }
          break;
        }
        case FRAME_TIMERS: {
          const n = r.u32();
          r.need(n);
          counts.timers += n;
          for (let i = 0; i < n; i++) {
            const domainCode = r.u8();
            const key = readValue(r);
            const keyGroup = r.u32();
            const timestamp = r.f64();
            const timer = restoredTimer([domainCode, key, keyGroup, timestamp]);
            if (timer === undefined) throw corrupt(`${at} holds a malformed timer`);
            if (keyGroupRangeContains(range, timer.keyGroup)) into.timers.push(timer);
          }
          break;
        }
        case FRAME_END: {
          const frames = r.u32();
          const entries = r.u32();
          const timers = r.u32();
          if (r.pos !== r.end) throw corrupt(`${at} is a malformed end frame`);
          if (frames !== counts.frames || entries !== counts.entries || timers !== counts.timers) {
            throw corrupt(
              `the end frame records ${frames} frames, ${entries} entries and ${timers} timers, ` +
                `but the file holds ${counts.frames}, ${counts.entries} and ${counts.timers}`,
            );
          }
          return true;
        }
        default:
          throw corrupt(`${at} has unknown frame type ${type}`);
      }
    } catch (error) {
      if (error instanceof CorruptCheckpointError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw corrupt(`${at} cannot be decoded: ${message}`, error);
    }
    if (r.pos !== r.end) throw corrupt(`${at} holds ${r.end - r.pos} bytes more than its content`);
    return false;
  };
}
