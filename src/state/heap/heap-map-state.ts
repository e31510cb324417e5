import type { MapState } from '../../api/state.ts';
import { canonicalKey } from '../../core/key-group.ts';
import type { EntryTable } from '../entry-table.ts';
import type { StoredMap } from './state-table.ts';

/**
 * User keys follow stream-key rules: they are canonicalized (arrays compare by content) and the
 * first key given for a canonical form is the one entries()/keys() report. A key whose map
 * becomes empty loses its entry.
 */
export class HeapMapState<UK, UV> implements MapState<UK, UV> {
  readonly #table: EntryTable;
  readonly #where: string;

  constructor(table: EntryTable, where: string) {
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
    return mapPairs(this.#owned(), valueOfPair) as IterableIterator<UV>;
  }

  isEmpty(): boolean {
    return this.#table.current() === undefined;
  }

  clear(): void {
    this.#table.clearCurrent();
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
function valueOfPair(pair: [unknown, unknown]): unknown {
  return pair[1];
}

function* mapPairs<R>(map: StoredMap | undefined, project: (pair: [unknown, unknown]) => R): IterableIterator<R> {
  if (map === undefined) return;
  for (const pair of map.values()) yield project(pair);
}
