/**
 * The copy-on-write tables of the heap keyed state backend and the context the states of one
 * backend share (current key, version counter, live snapshots, the rows). A key's entries
 * (original key, stored value, write version) in all the backend's states form one row, and one
 * `Map` per key group leads from a key's canonical form to its row: a record that reads and
 * writes several states of its key looks the key up once, and a state table is a column of rows.
 * While the backend has a single state the map holds the key's entry itself instead of a row of
 * one: the row would only add an allocation per new key and two dependent loads per key change.
 * The second state's registration turns every entry into a row (once; states are never removed).
 *
 * A write to an entry that a live snapshot still shares first saves the old value in that
 * snapshot (see heap-snapshot.ts), so taking a snapshot costs O(states), not O(entries).
 */
import type { StateKind } from '../../api/state.ts';
import type { PrimitiveKey } from '../../core/key-group.ts';
import { noCurrentKey } from './heap-state-messages.ts';
import { copyValue } from './stored-values.ts';

/** One key's state in one table; also the record a snapshot overlay keeps of an old value. */
export class Entry {
  readonly canonical: PrimitiveKey;
  key: unknown;
  value: unknown;
  /** The write version of `value`: shared with every live snapshot whose version is >= it. */
  version: number;
  constructor(canonical: PrimitiveKey, key: unknown, value: unknown, version: number) {
    this.canonical = canonical;
    this.key = key;
    this.value = value;
    this.version = version;
  }
}

/** An old value as an overlay keeps it: the entry itself, or the position of its record in the snapshot's arena. */
export type Saved = Entry | number;

/** One key's entries, indexed by table id; undefined where the key has no value in that state. */
export type Row = (Entry | undefined)[];

/**
 * What a slot's map holds for a key: its row while the backend has several states (`wide`), its
 * entry in the one state otherwise.
 */
export type Cell = Entry | Row;

/** Map-state values: canonical user key → [user key, user value]. */
export type StoredMap = Map<PrimitiveKey, [unknown, unknown]>;

/**
 * What a table needs of a live snapshot to preserve old values for it (HeapSnapshot implements
 * it): its version, how far it was written, and where to save an old value.
 */
export interface TableSnapshot {
  readonly version: number;
  /** Slots below this are written: their old values are no longer saved. */
  readonly written: number;
  /**
   * Keeps the entry's key and value by reference; `retired`: the entry is leaving the table and
   * is never changed again, so the entry object itself may be kept.
   */
  save(tableId: number, slot: number, entry: Entry, retired: boolean): void;
  /** Keeps the entry's key and value encoded; false when the codec refuses them (nothing is kept then). */
  saveEncoded(tableId: number, slot: number, entry: Entry, kind: StateKind): boolean;
  release(): void;
}

/**
 * What the state objects of one backend share: the current key, the snapshot versions and the
 * rows. Module-internal, so its fields are plain: every state access reads them.
 */
export class Context {
  key: unknown = undefined;
  canonical: PrimitiveKey = '';
  keyGroup = -1;
  /** keyGroup minus the range start; -1 while no key is set. */
  slot = -1;
  /** Changes whenever the current key is set (or the rows change other than through the current key). */
  epoch = 0;
  /** The current key's cell as last looked up (undefined: none), valid while `cellEpoch` equals `epoch`. */
  cell: Cell | undefined = undefined;
  cellEpoch = -1;
  /** The version stamped on writes. */
  version = 0;
  /** Version of the newest live snapshot; -1 while none is live. */
  newestLive = -1;
  /** Live snapshots, oldest first (versions ascending). */
  readonly live: TableSnapshot[] = [];
  /** Per slot (key group minus the range start): canonical key → the key's cell. */
  readonly rows: Map<PrimitiveKey, Cell>[] = [];
  /** Whether cells are rows (two or more tables); while false each cell is an entry of table 0. */
  wide = false;
  #tables = 0;
  /** A row with an empty cell for each table so far: new rows are copies (exactly sized, unlike a grown array). */
  #emptyRow: Row = [];

  constructor(groupCount: number) {
    for (let i = 0; i < groupCount; i++) this.rows.push(new Map());
  }

  /** The current key's cell, looked up once per key change; throws (naming `state`) when no key is set. */
  currentCell(state: string): Cell | undefined {
    if (this.cellEpoch === this.epoch) return this.cell;
    const group = this.rows[this.slot];
    if (group === undefined) throw noCurrentKey(state);
    const cell = group.get(this.canonical);
    this.cell = cell;
    this.cellEpoch = this.epoch;
    return cell;
  }

  /** Table `id`'s entry in a cell. */
  entryOf(cell: Cell | undefined, id: number): Entry | undefined {
    if (cell === undefined || !this.wide) return cell as Entry | undefined;
    return (cell as Row)[id];
  }

  /**
   * A table was added: new rows get a cell for it (older rows are shorter; a missing cell reads as
   * empty). The second table turns each entry of the first into a row holding it; the entry
   * objects stay the same, so snapshots and cached entries are unaffected.
   */
  addTable(): void {
    this.#tables++;
    this.#emptyRow = [...this.#emptyRow, undefined];
    if (this.#tables !== 2) return;
    for (const group of this.rows) {
      for (const [canonical, cell] of group) group.set(canonical, [cell as Entry, undefined]);
    }
    this.wide = true;
    this.cellEpoch = -1;
  }

  /** A new row, with an empty cell for each table. */
  newRow(): Row {
    return this.#emptyRow.slice();
  }

  /** The rows and the current key are gone (the backend was disposed). */
  clear(): void {
    for (const group of this.rows) group.clear();
    this.key = undefined;
    this.canonical = '';
    this.keyGroup = -1;
    this.slot = -1;
    this.epoch++;
  }
}

function isEmpty(row: Row): boolean {
  for (let i = 0; i < row.length; i++) if (row[i] !== undefined) return false;
  return true;
}

export class StateTable {
  readonly id: number;
  readonly name: string;
  readonly kind: StateKind;
  readonly #ctx: Context;

  constructor(id: number, name: string, kind: StateKind, ctx: Context) {
    this.id = id;
    this.name = name;
    this.kind = kind;
    this.#ctx = ctx;
  }

  /** This table's entries in one slot (key group minus the range start), as they are now. */
  entries(slot: number): Entry[] {
    const ctx = this.#ctx;
    const group = ctx.rows[slot]!;
    const out: Entry[] = [];
    if (!ctx.wide) {
      for (const entry of group.values()) out.push(entry as Entry);
      return out;
    }
    const id = this.id;
    for (const row of group.values()) {
      const entry = (row as Row)[id];
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  /** The key's entry in this state in one slot, if it has one. */
  get(slot: number, canonical: PrimitiveKey): Entry | undefined {
    const ctx = this.#ctx;
    return ctx.entryOf(ctx.rows[slot]!.get(canonical), this.id);
  }

  /** The current key's entry, if it has one. */
  current(): Entry | undefined {
    const ctx = this.#ctx;
    const cell = ctx.cellEpoch === ctx.epoch ? ctx.cell : ctx.currentCell(this.name);
    if (cell === undefined || !ctx.wide) return cell as Entry | undefined;
    return (cell as Row)[this.id];
  }

  /** Stores a value for the current key, given its entry as found by current(). */
  write(entry: Entry | undefined, value: unknown): void {
    const ctx = this.#ctx;
    if (entry === undefined) {
      const created = new Entry(ctx.canonical, ctx.key, value, ctx.version);
      if (!ctx.wide) {
        ctx.rows[ctx.slot]!.set(ctx.canonical, created);
        ctx.cell = created;
        ctx.cellEpoch = ctx.epoch;
        return;
      }
      let row = ctx.currentCell(this.name) as Row | undefined;
      if (row === undefined) {
        row = ctx.newRow();
        ctx.rows[ctx.slot]!.set(ctx.canonical, row);
        ctx.cell = row;
      }
      row[this.id] = created;
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(ctx.slot, entry, false);
      entry.version = ctx.version;
    }
    entry.value = value;
  }

  /** Removes the current key's entry, given as found by current(). */
  remove(entry: Entry): void {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) this.#preserve(ctx.slot, entry, false, true);
    if (!ctx.wide) {
      ctx.rows[ctx.slot]!.delete(ctx.canonical);
      ctx.cell = undefined;
      ctx.cellEpoch = ctx.epoch;
      return;
    }
    const row = ctx.currentCell(this.name) as Row | undefined;
    if (row === undefined) return;
    row[this.id] = undefined;
    if (isEmpty(row)) {
      ctx.rows[ctx.slot]!.delete(ctx.canonical);
      ctx.cell = undefined;
    }
  }

  /** Removes the current key's entry, if it has one (every state kind's clear()). */
  clearCurrent(): void {
    const entry = this.current();
    if (entry !== undefined) this.remove(entry);
  }

  /**
   * The current key's value, made private to the live state: while a live snapshot shares it,
   * the snapshot keeps an encoded copy (or, for a value the codec refuses, the original while the
   * entry gets a deep copy). Needed before a value is mutated in place or handed to user code
   * that might.
   */
  own(entry: Entry): unknown {
    const ctx = this.#ctx;
    if (entry.version <= ctx.newestLive) {
      if (this.#preserve(ctx.slot, entry, true)) entry.value = copyValue(entry.value);
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
    ctx.cellEpoch = -1;
    const rows = ctx.rows[slot]!;
    const cell = rows.get(canonical);
    const entry = ctx.entryOf(cell, this.id);
    if (entry === undefined) {
      const created = new Entry(canonical, key, value, ctx.version);
      if (!ctx.wide) {
        rows.set(canonical, created);
      } else if (cell === undefined) {
        const row = ctx.newRow();
        row[this.id] = created;
        rows.set(canonical, row);
      } else {
        (cell as Row)[this.id] = created;
      }
      return;
    }
    if (entry.version <= ctx.newestLive) {
      this.#preserve(slot, entry, false);
      entry.version = ctx.version;
    }
    entry.key = key;
    entry.value = value;
  }

  /**
   * Saves the entry's current value in each live snapshot that shares it (those whose version is
   * >= the entry's) and has not yet written its key group. None of them has an overlay record for
   * this key yet (a record is only made on the first write after a snapshot, which moves the
   * entry's version past that snapshot's). `encode`: the value is about to be mutated in place, so
   * it is saved as bytes; returns whether some snapshot had to keep the object itself instead (the
   * codec refused it), in which case the caller must give the live entry a copy. `retired`: the
   * entry is being removed from the table (nothing changes it afterwards).
   */
  #preserve(slot: number, entry: Entry, encode: boolean, retired = false): boolean {
    const live = this.#ctx.live;
    let kept = false;
    for (let i = live.length - 1; i >= 0; i--) {
      const snapshot = live[i]!;
      if (snapshot.version < entry.version) break;
      if (slot < snapshot.written) continue;
      if (encode && snapshot.saveEncoded(this.id, slot, entry, this.kind)) continue;
      snapshot.save(this.id, slot, entry, retired);
      kept = true;
    }
    return kept;
  }
}
