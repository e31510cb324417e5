/**
 * What a restore collects from keyed state files: declared states, entries per key group, timers.
 * Entries are kept in memory, or, when the collector has an EntrySink, handed to the sink as they
 * are decoded (a backend that writes them to disk, so that a restore needs no memory that grows
 * with the state).
 */
import type { StateKind } from '../../../api/state.ts';
import type { KeyGroupRange } from '../../../core/key-group.ts';
import type { KeyedStateSnapshotData } from '../../keyed-state-backend.ts';
import type { RestoredKeyedState } from '../../state-backend.ts';
import type { ByteReader } from '../../state-codec.ts';
import type { RestoredTimer } from '../../timer-snapshot.ts';

/**
 * Takes the entries of a restore (only those of key groups in the range) instead of the
 * collector. The frame parsers call it inside their checks: whatever it throws is reported as a
 * corrupt file naming the file and the frame.
 */
export interface EntrySink {
  /**
   * One entry of a format 2 file: `r` is at its key, which the sink reads, then its value as
   * state-codec.ts's readStored(r, kind) would, leaving `r` after the value (r.bytes holds them,
   * so the sink may copy their encoded bytes instead of encoding them again).
   */
  read(name: string, kind: StateKind, keyGroup: number, r: ByteReader): void;
  /** One entry of a format 1 file, decoded: the value as KeyedStateBackend.restore() takes it. */
  add(name: string, kind: StateKind, keyGroup: number, key: unknown, value: unknown): void;
  /** Called after every frame: a promise to await before the next (the sink's backpressure), or undefined. */
  frameDone(): Promise<void> | undefined;
}

/** Entries of one state in one key group, as keys and values alternating. */
class FlatEntries implements Iterable<readonly [unknown, unknown]> {
  readonly flat: unknown[] = [];

  *[Symbol.iterator](): Iterator<readonly [unknown, unknown]> {
    const flat = this.flat;
    for (let i = 0; i < flat.length; i += 2) yield [flat[i], flat[i + 1]];
  }
}

export class RestoreCollector {
  readonly range: KeyGroupRange;
  /** Declared states, in order of first appearance, with the file that first declared them. */
  readonly states = new Map<string, { kind: StateKind; file: string }>();
  /** Entries by state, then key group. */
  readonly entries = new Map<string, Map<number, FlatEntries>>();
  readonly timers: RestoredTimer<unknown>[] = [];
  /** Where entries go instead of `entries`, when set. */
  readonly sink: EntrySink | undefined;

  constructor(range: KeyGroupRange, sink?: EntrySink) {
    this.range = range;
    this.sink = sink;
  }

  /** Records a state declared by `file`; a different kind than an earlier file declared is corrupt. */
  declare(name: string, kind: StateKind, file: string, corrupt: (problem: string) => Error): void {
    const known = this.states.get(name);
    if (known !== undefined && known.kind !== kind) {
      throw corrupt(`state '${name}' is declared as ${kind} state here but as ${known.kind} state in ${known.file}`);
    }
    if (known === undefined) this.states.set(name, { kind, file });
  }

  /** Where entries of `name` in `keyGroup` go. */
  part(name: string, keyGroup: number): unknown[] {
    let byGroup = this.entries.get(name);
    if (byGroup === undefined) {
      byGroup = new Map();
      this.entries.set(name, byGroup);
    }
    let part = byGroup.get(keyGroup);
    if (part === undefined) {
      part = new FlatEntries();
      byGroup.set(keyGroup, part);
    }
    return part.flat;
  }

  build(): RestoredKeyedState {
    const data: KeyedStateSnapshotData[] = [];
    for (const [name, byGroup] of this.entries) {
      const kind = this.states.get(name)!.kind;
      for (const keyGroup of [...byGroup.keys()].sort((a, b) => a - b)) {
        data.push({ name, kind, keyGroup, entries: byGroup.get(keyGroup)!, owned: true });
      }
    }
    const states = [...this.states].map(([name, s]) => ({ name, kind: s.kind }));
    return { data, timers: this.timers, states };
  }
}
