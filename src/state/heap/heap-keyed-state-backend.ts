/**
 * Keyed state on the JavaScript heap (Flink's HashMapStateBackend).
 *
 * Layout: every state has a table with one `Map` per key group of the backend's range, from the
 * canonical form of a key to an entry holding the original key, the stored value and a version.
 * Grouping by key group lets snapshots be written, and restored after rescaling, key group by
 * key group without scanning or re-hashing the rest of the state.
 *
 * Snapshots are copy-on-write, so that taking one costs O(states), not O(entries). A global
 * version counter stamps writes; a snapshot takes the current version and moves the counter on.
 * An entry whose version is at most a live snapshot's version still holds the value that snapshot
 * must see, so the first write to it afterwards first saves the old value (or, for a removal, the
 * fact it was present) in the overlay of every live snapshot that shares it. Entries newer than a
 * snapshot and absent from its overlay did not exist for it. Values that user code could mutate in
 * place (objects, arrays, maps) are replaced by a deep copy before being handed out while they are
 * shared, so in-place mutation only ever reaches the live copy. With no live snapshot all this
 * costs one version comparison per access.
 *
 * Stored values must be acyclic data (what a checkpoint can serialize): copies preserve plain
 * objects, arrays, Maps, Sets, Dates, binary data and the prototypes of class instances, but not
 * private class fields.
 */

import type {
  AggregateFunction,
  AggregatingState,
  AggregatingStateDescriptor,
  ListState,
  ListStateDescriptor,
  MapState,
  MapStateDescriptor,
  ReduceFn,
  ReducingState,
  ReducingStateDescriptor,
  StateKind,
  ValueState,
  ValueStateDescriptor,
} from '../../api/state.ts';
import { canonicalKey, computeKeyGroupForKeyHash, hashKey } from '../key-group.ts';
import type { KeyGroupRange, PrimitiveKey } from '../key-group.ts';
import type { KeyedStateBackend, KeyedStateSnapshot, KeyedStateSnapshotData } from '../keyed-state-backend.ts';

export interface HeapKeyedStateBackendOptions {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  /** Names the owner in error messages (e.g. the operator). */
  readonly where?: string;
}

/** One key's state in one table; also the record a snapshot overlay keeps of an old value. */
class Entry {
  key: unknown;
  value: unknown;
  /** The write version of `value`: shared with every live snapshot whose version is >= it. */
  version: number;
  constructor(key: unknown, value: unknown, version: number) {
    this.key = key;
    this.value = value;
    this.version = version;
  }
}

/** Map-state values: canonical user key → [user key, user value]. */
type StoredMap = Map<PrimitiveKey, [unknown, unknown]>;

/**
 * What the state objects of one backend share: the current key and the snapshot versions.
 * Module-internal, so its fields are plain: every state access reads them.
 */
class Context {
  key: unknown = undefined;
  canonical: PrimitiveKey = '';
  keyGroup = -1;
  /** keyGroup minus the range start; -1 while no key is set. */
  slot = -1;
  /** The version stamped on writes. */
  version = 0;
  /** Version of the newest live snapshot; -1 while none is live. */
  newestLive = -1;
  /** Live snapshots, oldest first (versions ascending). */
  readonly live: HeapSnapshot[] = [];
}

class StateTable {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  readonly groups: Map<PrimitiveKey, Entry>[];
  readonly #ctx: Context;

  constructor(id: number, name: string, kind: StateKind, groupCount: number, ctx: Context) {
    this.id = id;
    this.name = name;
    this.kind = kind;
    this.#ctx = ctx;
    this.groups = [];
    for (let i = 0; i < groupCount; i++) this.groups.push(new Map());
  }

  /** The current key's entry, if it has one. */
  current(): Entry | undefined {
    const ctx = this.#ctx;
    const group = this.groups[ctx.slot];
    if (group === undefined) throw noCurrentKey(this.name);
    return group.get(ctx.canonical);
  }

  /** Stores a value for the current key, given its entry as found by current(). */
  write(entry: Entry | undefined, value: unknown): void {
    const ctx = this.#ctx;
    if (entry === undefined) {
      this.groups[ctx.slot]!.set(ctx.canonical, new Entry(ctx.key, value, ctx.version));
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(ctx.slot, ctx.canonical, entry);
      entry.version = ctx.version;
    }
    entry.value = value;
  }

  /** Removes the current key's entry, given as found by current(). */
  remove(entry: Entry): void {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) this.#preserve(ctx.slot, ctx.canonical, entry);
    this.groups[ctx.slot]!.delete(ctx.canonical);
  }

  /**
   * The current key's value, made private to the live state: while a live snapshot shares it,
   * the snapshot keeps the original and the entry gets a deep copy. Needed before a value is
   * mutated in place or handed to user code that might.
   */
  own(entry: Entry): unknown {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) {
      this.#preserve(ctx.slot, ctx.canonical, entry);
      entry.value = copyValue(entry.value);
      entry.version = ctx.version;
    }
    return entry.value;
  }

  /** Whether a live snapshot still shares the entry's value. */
  shared(entry: Entry): boolean {
    return entry.version <= this.#ctx.newestLive;
  }

  /** Stores a value for any key (restore); `slot` is the key group minus the range start. */
  put(slot: number, canonical: PrimitiveKey, key: unknown, value: unknown): void {
    const ctx = this.#ctx;
    const group = this.groups[slot]!;
    const entry = group.get(canonical);
    if (entry === undefined) {
      group.set(canonical, new Entry(key, value, ctx.version));
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(slot, canonical, entry);
      entry.version = ctx.version;
    }
    entry.key = key;
    entry.value = value;
  }

  /**
   * Saves the entry's current value in each live snapshot that shares it: those whose version is
   * >= the entry's. None of them has an overlay record for this key yet (a record is only made on
   * the first write after a snapshot, which moves the entry's version past that snapshot's).
   */
  #preserve(slot: number, canonical: PrimitiveKey, entry: Entry): void {
    const live = this.#ctx.live;
    for (let i = live.length - 1; i >= 0; i--) {
      const snapshot = live[i]!;
      if (snapshot.version < entry.version) break;
      snapshot.save(this.id, slot, canonical, entry.key, entry.value);
    }
  }
}

class HeapSnapshot implements KeyedStateSnapshot {
  readonly version: number;
  readonly states: readonly { readonly name: string; readonly kind: StateKind }[];
  readonly #tables: ReadonlyMap<string, StateTable>;
  readonly #rangeStart: number;
  readonly #groupCount: number;
  readonly #onRelease: (snapshot: HeapSnapshot) => void;
  /** Old values by table id, then slot, then canonical key; allocated on first use. */
  #overlays: (Map<PrimitiveKey, Entry> | undefined)[][] = [];
  #released = false;

  constructor(
    version: number,
    tables: readonly StateTable[],
    rangeStart: number,
    groupCount: number,
    onRelease: (snapshot: HeapSnapshot) => void,
  ) {
    this.version = version;
    this.states = tables.map((t) => ({ name: t.name, kind: t.kind }));
    this.#tables = new Map(tables.map((t) => [t.name, t]));
    this.#rangeStart = rangeStart;
    this.#groupCount = groupCount;
    this.#onRelease = onRelease;
  }

  save(tableId: number, slot: number, canonical: PrimitiveKey, key: unknown, value: unknown): void {
    const perTable = (this.#overlays[tableId] ??= []);
    let overlay = perTable[slot];
    if (overlay === undefined) {
      overlay = new Map();
      perTable[slot] = overlay;
    }
    overlay.set(canonical, new Entry(key, value, this.version));
  }

  /**
   * Collected eagerly, so that the caller may interleave consuming the result with processing
   * that changes the live state (the overlay is only consistent with the live maps at one time).
   */
  entries(stateName: string, keyGroup: number): Iterable<readonly [key: unknown, value: unknown]> {
    if (this.#released) throw new Error(`keyed state snapshot ${this.version} has been released`);
    const table = this.#tables.get(stateName);
    if (table === undefined) throw new Error(`keyed state snapshot has no state named '${stateName}'`);
    const slot = keyGroup - this.#rangeStart;
    if (!Number.isInteger(keyGroup) || slot < 0 || slot >= this.#groupCount) {
      throw new RangeError(
        `key group ${keyGroup} is outside the snapshot's range ${this.#rangeStart}..${this.#rangeStart + this.#groupCount - 1}`,
      );
    }
    const group = table.groups[slot]!;
    const overlay = this.#overlays[table.id]?.[slot];
    const out: (readonly [unknown, unknown])[] = [];
    for (const [canonical, entry] of group) {
      if (entry.version <= this.version) {
        out.push([entry.key, entry.value]);
      } else {
        // Written after the snapshot: the overlay has the old value unless it was inserted since.
        const saved = overlay?.get(canonical);
        if (saved !== undefined) out.push([saved.key, saved.value]);
      }
    }
    if (overlay !== undefined) {
      // Removed since the snapshot (possibly re-inserted: then handled above).
      for (const [canonical, saved] of overlay) {
        if (!group.has(canonical)) out.push([saved.key, saved.value]);
      }
    }
    return out;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#overlays = [];
    this.#onRelease(this);
  }
}

export class HeapKeyedStateBackend implements KeyedStateBackend {
  readonly maxParallelism: number;
  readonly keyGroupRange: KeyGroupRange;
  readonly #where: string | undefined;
  readonly #rangeStart: number;
  readonly #groupCount: number;
  readonly #ctx = new Context();
  readonly #tables = new Map<string, StateTable>();
  readonly #tableList: StateTable[] = [];
  readonly #states = new Map<string, unknown>();
  readonly #releaseSnapshot = (snapshot: HeapSnapshot): void => {
    const live = this.#ctx.live;
    const index = live.indexOf(snapshot);
    if (index >= 0) live.splice(index, 1);
    this.#ctx.newestLive = live.length > 0 ? live[live.length - 1]!.version : -1;
  };

  constructor(options: HeapKeyedStateBackendOptions) {
    const { maxParallelism, keyGroupRange } = options;
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new RangeError(`maxParallelism must be a positive integer, got ${maxParallelism}`);
    }
    const { start, end } = keyGroupRange;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end >= maxParallelism) {
      throw new RangeError(`invalid key group range ${start}..${end} for maxParallelism ${maxParallelism}`);
    }
    this.maxParallelism = maxParallelism;
    this.keyGroupRange = { start, end };
    this.#where = options.where;
    this.#rangeStart = start;
    this.#groupCount = end - start + 1;
  }

  setCurrentKey(key: unknown): void {
    // Hashes the key itself (array keys hash element-wise, not by their canonical string).
    const canonical = canonicalKey(key, this.#where);
    const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.#where), this.maxParallelism);
    const slot = keyGroup - this.#rangeStart;
    if (slot < 0 || slot >= this.#groupCount) throw this.#outOfRange(key, keyGroup);
    const ctx = this.#ctx;
    ctx.key = key;
    ctx.canonical = canonical;
    ctx.keyGroup = keyGroup;
    ctx.slot = slot;
  }

  getCurrentKey(): unknown {
    return this.#ctx.key;
  }

  getCurrentKeyGroup(): number {
    return this.#ctx.keyGroup;
  }

  getValueState<T>(d: ValueStateDescriptor<T>): ValueState<T> {
    return this.#state(d.name, 'value', (t) => new HeapValueState<T>(t, d.defaultValue));
  }

  getListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.#state(d.name, 'list', (t) => new HeapListState<T>(t));
  }

  getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.#state(d.name, 'map', (t) => new HeapMapState<UK, UV>(t, `map state '${d.name}'`));
  }

  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.#state(d.name, 'reducing', (t) => new HeapReducingState<T>(t, d.reduce));
  }

  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.#state(d.name, 'aggregating', (t) => new HeapAggregatingState<IN, ACC, OUT>(t, d.aggregate));
  }

  /** Iterates the live maps: removing keys meanwhile is safe; keys added meanwhile may or may not appear. */
  *keys(stateName: string): Iterable<unknown> {
    const table = this.#tables.get(stateName);
    if (table === undefined) return;
    for (const group of table.groups) {
      for (const entry of group.values()) yield entry.key;
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
    return snapshot;
  }

  restore(data: Iterable<KeyedStateSnapshotData>): void {
    for (const part of data) {
      const slot = part.keyGroup - this.#rangeStart;
      if (!Number.isInteger(part.keyGroup) || slot < 0 || slot >= this.#groupCount) continue;
      const table = this.#table(part.name, part.kind);
      for (const [key, value] of part.entries) {
        const canonical = canonicalKey(key, this.#where);
        const keyGroup = computeKeyGroupForKeyHash(hashKey(key, this.#where), this.maxParallelism);
        if (keyGroup !== part.keyGroup) {
          throw new Error(
            `cannot restore state '${part.name}': key ${describeKey(key)} belongs to key group ${keyGroup}, ` +
              `not ${part.keyGroup} (was the snapshot taken with a different maxParallelism?)`,
          );
        }
        const stored = toStored(part.kind, value, part.name);
        if (stored !== undefined) table.put(slot, canonical, key, stored);
      }
    }
  }

  dispose(): void {
    const ctx = this.#ctx;
    for (const snapshot of [...ctx.live]) snapshot.release();
    for (const table of this.#tableList) {
      for (const group of table.groups) group.clear();
    }
    ctx.key = undefined;
    ctx.canonical = '';
    ctx.keyGroup = -1;
    ctx.slot = -1;
  }

  #table(name: string, kind: StateKind): StateTable {
    let table = this.#tables.get(name);
    if (table === undefined) {
      table = new StateTable(this.#tableList.length, name, kind, this.#groupCount, this.#ctx);
      this.#tables.set(name, table);
      this.#tableList.push(table);
    } else if (table.kind !== kind) {
      throw new Error(`state '${name}' is ${article(table.kind)} state and cannot be used as ${article(kind)} state`);
    }
    return table;
  }

  #state<S>(name: string, kind: StateKind, create: (table: StateTable) => S): S {
    const table = this.#table(name, kind);
    let state = this.#states.get(name);
    if (state === undefined) {
      state = create(table);
      this.#states.set(name, state);
    }
    return state as S;
  }

  #outOfRange(key: unknown, keyGroup: number): Error {
    const { start, end } = this.keyGroupRange;
    const owner = this.#where === undefined ? '' : `${this.#where}: `;
    return new Error(
      `${owner}key ${describeKey(key)} belongs to key group ${keyGroup}, outside this subtask's ` +
        `key groups ${start}..${end} (records were routed to the wrong subtask)`,
    );
  }
}

class HeapValueState<T> implements ValueState<T> {
  readonly #table: StateTable;
  readonly #defaultValue: T | undefined;
  readonly #defaultIsObject: boolean;

  constructor(table: StateTable, defaultValue: T | undefined) {
    this.#table = table;
    this.#defaultValue = defaultValue;
    this.#defaultIsObject = typeof defaultValue === 'object' && defaultValue !== null;
  }

  /** An object default is copied per call, so mutating it cannot change later defaults. */
  value(): T | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      return this.#defaultIsObject ? (copyValue(this.#defaultValue) as T) : this.#defaultValue;
    }
    const value = entry.value;
    if (typeof value === 'object' && value !== null) return table.own(entry) as T;
    return value as T;
  }

  /** Updating to undefined clears the state (undefined is what "no value" reads as). */
  update(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (value === undefined) {
      if (entry !== undefined) table.remove(entry);
      return;
    }
    table.write(entry, value);
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** The stored array is returned by get() itself (no copy) while no snapshot shares it. */
class HeapListState<T> implements ListState<T> {
  readonly #table: StateTable;

  constructor(table: StateTable) {
    this.#table = table;
  }

  get(): T[] {
    const table = this.#table;
    const entry = table.current();
    return entry === undefined ? [] : (table.own(entry) as T[]);
  }

  add(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) table.write(undefined, [value]);
    else (table.own(entry) as T[]).push(value);
  }

  addAll(values: Iterable<T>): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      const list = Array.from(values);
      if (list.length > 0) table.write(undefined, list);
      return;
    }
    const list = table.own(entry) as T[];
    for (const value of values) list.push(value);
  }

  /** Replacing with no values clears the state. */
  update(values: Iterable<T>): void {
    const table = this.#table;
    const list = Array.from(values);
    const entry = table.current();
    if (list.length > 0) table.write(entry, list);
    else if (entry !== undefined) table.remove(entry);
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/**
 * User keys follow stream-key rules: they are canonicalized (arrays compare by content) and the
 * first key given for a canonical form is the one entries()/keys() report. A key whose map
 * becomes empty loses its entry.
 */
class HeapMapState<UK, UV> implements MapState<UK, UV> {
  readonly #table: StateTable;
  readonly #where: string;

  constructor(table: StateTable, where: string) {
    this.#table = table;
    this.#where = where;
  }

  get(key: UK): UV | undefined {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    const pair = (entry.value as StoredMap).get(canonical);
    if (pair === undefined) return undefined;
    const value = pair[1];
    if (typeof value === 'object' && value !== null && table.shared(entry)) {
      return (table.own(entry) as StoredMap).get(canonical)![1] as UV;
    }
    return value as UV;
  }

  put(key: UK, value: UV): void {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      const map: StoredMap = new Map();
      map.set(canonical, [key, value]);
      table.write(undefined, map);
      return;
    }
    const map = table.own(entry) as StoredMap;
    const pair = map.get(canonical);
    if (pair === undefined) map.set(canonical, [key, value]);
    else pair[1] = value;
  }

  putAll(entries: Iterable<readonly [UK, UV]>): void {
    for (const [key, value] of entries) this.put(key, value);
  }

  remove(key: UK): void {
    const canonical = canonicalKey(key, this.#where);
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined || !(entry.value as StoredMap).has(canonical)) return;
    const map = table.own(entry) as StoredMap;
    map.delete(canonical);
    if (map.size === 0) table.remove(entry);
  }

  contains(key: UK): boolean {
    const canonical = canonicalKey(key, this.#where);
    const entry = this.#table.current();
    return entry !== undefined && (entry.value as StoredMap).has(canonical);
  }

  entries(): IterableIterator<[UK, UV]> {
    return mapPairs(this.#owned(), pairOf) as IterableIterator<[UK, UV]>;
  }

  keys(): IterableIterator<UK> {
    return mapPairs(this.#owned(), keyOf) as IterableIterator<UK>;
  }

  values(): IterableIterator<UV> {
    return mapPairs(this.#owned(), valueOf) as IterableIterator<UV>;
  }

  isEmpty(): boolean {
    return this.#table.current() === undefined;
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }

  #owned(): StoredMap | undefined {
    const table = this.#table;
    const entry = table.current();
    return entry === undefined ? undefined : (table.own(entry) as StoredMap);
  }
}

function pairOf(pair: [unknown, unknown]): [unknown, unknown] {
  return [pair[0], pair[1]];
}
function keyOf(pair: [unknown, unknown]): unknown {
  return pair[0];
}
function valueOf(pair: [unknown, unknown]): unknown {
  return pair[1];
}

function* mapPairs<R>(map: StoredMap | undefined, project: (pair: [unknown, unknown]) => R): IterableIterator<R> {
  if (map === undefined) return;
  for (const pair of map.values()) yield project(pair);
}

class HeapReducingState<T> implements ReducingState<T> {
  readonly #table: StateTable;
  readonly #reduce: ReduceFn<T>;

  constructor(table: StateTable, reduce: ReduceFn<T>) {
    this.#table = table;
    this.#reduce = reduce;
  }

  get(): T | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    const value = entry.value;
    if (typeof value === 'object' && value !== null) return table.own(entry) as T;
    return value as T;
  }

  /** The first value is stored as given; later ones are folded in (reduce may mutate its first argument). */
  add(value: T): void {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) {
      table.write(undefined, value);
      return;
    }
    const reduced = this.#reduce(table.own(entry) as T, value);
    table.write(entry, reduced);
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** The accumulator is passed to the aggregate function's add/getResult, which may mutate it. */
class HeapAggregatingState<IN, ACC, OUT> implements AggregatingState<IN, OUT> {
  readonly #table: StateTable;
  readonly #aggregate: AggregateFunction<IN, ACC, OUT>;

  constructor(table: StateTable, aggregate: AggregateFunction<IN, ACC, OUT>) {
    this.#table = table;
    this.#aggregate = aggregate;
  }

  get(): OUT | undefined {
    const table = this.#table;
    const entry = table.current();
    if (entry === undefined) return undefined;
    return this.#aggregate.getResult(table.own(entry) as ACC);
  }

  add(value: IN): void {
    const table = this.#table;
    const entry = table.current();
    const aggregate = this.#aggregate;
    if (entry === undefined) {
      table.write(undefined, aggregate.add(value, aggregate.createAccumulator()));
      return;
    }
    table.write(entry, aggregate.add(value, table.own(entry) as ACC));
  }

  clear(): void {
    const table = this.#table;
    const entry = table.current();
    if (entry !== undefined) table.remove(entry);
  }
}

/** Converts a value from a snapshot into the stored representation (a private copy); undefined: nothing to store. */
function toStored(kind: StateKind, value: unknown, name: string): unknown {
  switch (kind) {
    case 'list': {
      if (!isIterable(value)) throw new TypeError(`cannot restore list state '${name}': value is not iterable`);
      const list = Array.from(value, copyValue);
      return list.length > 0 ? list : undefined;
    }
    case 'map': {
      const pairs = value instanceof Map ? value.values() : value;
      if (!isIterable(pairs)) throw new TypeError(`cannot restore map state '${name}': value is not iterable`);
      const where = `map state '${name}'`;
      const map: StoredMap = new Map();
      for (const pair of pairs) {
        if (!Array.isArray(pair) || pair.length !== 2) {
          throw new TypeError(`cannot restore map state '${name}': expected [key, value] pairs`);
        }
        map.set(canonicalKey(pair[0], where), [copyValue(pair[0]), copyValue(pair[1])]);
      }
      return map.size > 0 ? map : undefined;
    }
    default:
      return copyValue(value);
  }
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return value != null && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}

/**
 * A deep copy of a stored value: what a snapshot keeps must not change when the live copy is
 * mutated in place. Primitives and functions are returned as they are.
 */
function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) out[i] = copyValue(value[i]);
    return out;
  }
  if (value instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of value) out.set(k, copyValue(v));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set<unknown>();
    for (const v of value) out.add(copyValue(v));
    return out;
  }
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof RegExp || value instanceof Error) {
    return structuredClone(value);
  }
  // Plain objects and class instances: own enumerable properties, same prototype.
  const out = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const k of Object.keys(value)) out[k] = copyValue((value as Record<string, unknown>)[k]);
  return out;
}

function noCurrentKey(name: string): Error {
  return new Error(`state '${name}' was accessed with no current key (keyed state needs a keyed context)`);
}

function article(kind: StateKind): string {
  return kind === 'aggregating' ? `an ${kind}` : `a ${kind}`;
}

function describeKey(key: unknown): string {
  try {
    const text = typeof key === 'bigint' ? `${key}n` : JSON.stringify(key);
    return text === undefined ? String(key) : text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(key);
  }
}
