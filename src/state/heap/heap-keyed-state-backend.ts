/**
 * Keyed state on the JavaScript heap (Flink's HashMapStateBackend).
 *
 * Layout: one `Map` per key group of the backend's range, from the canonical form of a key to
 * its row: the key's entry in each state (original key, stored value, version), a state's table
 * being a column of the rows. A record's reads and writes of all its key's states cost one
 * lookup (state-table.ts); while there is a single state the map holds its entries themselves.
 * Grouping by key group lets snapshots be written, and restored after rescaling, key group by
 * key group without scanning or re-hashing the rest of the state.
 *
 * Snapshots are copy-on-write, so that taking one costs O(states), not O(entries). A global
 * version counter stamps writes; a snapshot takes the current version and moves the counter on.
 * An entry whose version is at most a live snapshot's version still holds the value that snapshot
 * must see, so the first write to it afterwards first saves the old value (or, for a removal, the
 * fact it was present) in the overlay of every live snapshot that shares it. Entries newer than a
 * snapshot and absent from its overlay did not exist for it.
 *
 * What is saved depends on what happens to the old value. A value that is replaced or removed is
 * kept by reference: nobody changes it any more. A value about to be handed out for in-place
 * mutation (objects, arrays, maps) is encoded instead (state-codec.ts) into memory off the
 * JavaScript heap, and the live entry keeps the object itself: no copy is made on the heap, so a
 * snapshot that lives for seconds while every key is touched neither doubles the heap nor makes
 * the collector promote and trace the copies. Only a value the codec refuses is deep-copied;
 * writing the snapshot then reports it. A snapshot being written key group by key group says how
 * far it got (`markWritten`): old values of key groups it has written are no longer saved at all,
 * those of the key group being written are kept for it, and those of later key groups are handed
 * to the writer as they come (`takeSaved`), so the encoded copies never pile up.
 * With no live snapshot all this costs one version comparison per access.
 *
 * Stored values must be acyclic data (what a checkpoint can serialize): copies preserve plain
 * objects, arrays, Maps, Sets, Dates, binary data and the prototypes of class instances, but not
 * private class fields.
 */

import type { StateKind } from '../../api/state.ts';
import { canonicalKey, computeKeyGroupForKeyHash, hashKey } from '../../core/key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../../core/key-group.ts';
import { EntryTableBackend } from '../entry-table-backend.ts';
import type { KeyedStateBackend, KeyedStateSnapshot, KeyedStateSnapshotData } from '../keyed-state-backend.ts';
import type { LocalCopies } from '../local-recovery.ts';
import { HeapSnapshot } from './heap-snapshot.ts';
import { article, describeKey } from './heap-state-messages.ts';
import { Context, StateTable, type TableSnapshot } from './state-table.ts';
import { ownedStored, toStored } from './stored-values.ts';

export interface HeapKeyedStateBackendOptions {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Names the owner in error messages (e.g. the operator). */
  readonly where?: string;
  /** Local recovery: the subtask's task-local copies (heap-local-recovery.ts). Absent: off. */
  readonly localCopies?: LocalCopies | undefined;
}

export class HeapKeyedStateBackend extends EntryTableBackend implements KeyedStateBackend {
  readonly #rangeStart: number;
  readonly #groupCount: number;
  readonly #ctx: Context;
  readonly #tables = new Map<string, StateTable>();
  readonly #tableList: StateTable[] = [];
  readonly #releaseSnapshot = (snapshot: TableSnapshot): void => {
    const live = this.#ctx.live;
    const index = live.indexOf(snapshot);
    if (index >= 0) live.splice(index, 1);
    this.#ctx.newestLive = live.length > 0 ? live[live.length - 1]!.version : -1;
  };

  readonly #localCopies: LocalCopies | undefined;

  constructor(options: HeapKeyedStateBackendOptions) {
    super(options.maxParallelism, options.keyGroupRange, options.where);
    this.#localCopies = options.localCopies;
    const { start, end } = this.keyGroupRange;
    this.#rangeStart = start;
    this.#groupCount = end - start + 1;
    this.#ctx = new Context(this.#groupCount);
  }

  setCurrentKey(key: unknown): void {
    // Hashes the key itself (array keys hash element-wise, not by their canonical string).
    const canonical = canonicalKey(key, this.where);
    this.#setKey(key, canonical, computeKeyGroupForKeyHash(hashKey(key, this.where), this.maxParallelism));
  }

  setCurrentKeyInGroup(key: unknown, keyGroup: number): void {
    this.#setKey(key, canonicalKey(key, this.where), keyGroup);
  }

  #setKey(key: unknown, canonical: PrimitiveKey, keyGroup: number): void {
    const slot = keyGroup - this.#rangeStart;
    if (slot < 0 || slot >= this.#groupCount) throw this.outOfRange(key, keyGroup);
    const ctx = this.#ctx;
    ctx.key = key;
    ctx.canonical = canonical;
    ctx.keyGroup = keyGroup;
    ctx.slot = slot;
    ctx.epoch++;
  }

  getCurrentKey(): unknown {
    return this.#ctx.key;
  }

  getCurrentKeyGroup(): number {
    return this.#ctx.keyGroup;
  }

  /** Iterates the live maps: removing keys meanwhile is safe; keys added meanwhile may or may not appear. */
  *keys(stateName: string): Iterable<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return;
    const ctx = this.#ctx;
    const id = table.id;
    for (const group of ctx.rows) {
      for (const cell of group.values()) {
        const entry = ctx.entryOf(cell, id);
        if (entry !== undefined) yield entry.key;
      }
    }
  }

  snapshot(): KeyedStateSnapshot {
    const ctx = this.#ctx;
    const snapshot = new HeapSnapshot(
      ctx.version,
      this.#tableList,
      this.#rangeStart,
      this.#groupCount,
      this.#releaseSnapshot,
    );
    ctx.version++;
    ctx.live.push(snapshot);
    ctx.newestLive = snapshot.version;
    this.#localCopies?.register(snapshot);
    return snapshot;
  }

  notifyCheckpointComplete(checkpointId: number): void {
    this.#localCopies?.complete(checkpointId);
  }

  notifyCheckpointAborted(checkpointId: number): void {
    this.#localCopies?.abort(checkpointId);
  }

  restore(data: Iterable<KeyedStateSnapshotData>): void {
    for (const part of data) {
      const slot = part.keyGroup - this.#rangeStart;
      if (!Number.isInteger(part.keyGroup) || slot < 0 || slot >= this.#groupCount) continue;
      const table = this.#table(part.name, part.kind);
      for (const [key, value] of part.entries) {
        const canonical = canonicalKey(key, this.where);
        const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.where), this.maxParallelism);
        if (keyGroup !== part.keyGroup) {
          throw new Error(
            `cannot restore state '${part.name}': key ${describeKey(key)} belongs to key group ${keyGroup}, ` +
              `not ${part.keyGroup} (was the snapshot taken with a different maxParallelism?)`,
          );
        }
        const stored = part.owned === true ? ownedStored(part.kind, value, part.name) : toStored(part.kind, value, part.name);
        if (stored !== undefined) table.put(slot, canonical, key, stored);
      }
    }
  }

  dispose(): void {
    const ctx = this.#ctx;
    for (const snapshot of [...ctx.live]) snapshot.release();
    ctx.clear();
  }

  protected stateTable(name: string, kind: StateKind): StateTable {
    return this.#table(name, kind);
  }

  #table(name: string, kind: StateKind): StateTable {
    let table = this.#tables.get(name);
    if (table === undefined) {
      table = new StateTable(this.#tableList.length, name, kind, this.#ctx);
      this.#ctx.addTable();
      this.#tables.set(name, table);
      this.#tableList.push(table);
    } else if (table.kind !== kind) {
      throw new Error(`state '${name}' is ${article(table.kind)} state and cannot be used as ${article(kind)} state`);
    }
    return table;
  }
}
