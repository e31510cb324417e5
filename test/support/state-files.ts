/**
 * Shared by the tests of state backends' snapshot writing and restoring at the seam (local
 * recovery of both backends): an in-memory checkpoint storage, a reader that refuses every read,
 * and a small keyed state (a count and a map per key) with its timers, filled and dumped the
 * same way on either backend.
 */
import { createHash } from 'node:crypto';
import { MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import type { KeyedStateBackend } from '../../src/state/keyed-state-backend.ts';
import type { StateFileSink, StateFileSource } from '../../src/state/state-backend.ts';
import type { StateFileHandle } from '../../src/state/state-file.ts';
import type { TimerSnapshot } from '../../src/state/timer-snapshot.ts';

/** Files by path in memory, as a checkpoint storage holds them, with the paths read, in order. */
export class MemoryFiles {
  readonly files = new Map<string, Uint8Array>();
  readonly reads: string[] = [];
  sink(checkpointId: number): StateFileSink {
    return async (name, payload) => {
      const path = `chk-${checkpointId}/${name}`;
      this.files.set(path, Uint8Array.from(payload));
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
