import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import type { StateKind } from '../../src/api/state.ts';
import { decodeValue, encodeValue } from '../../src/core/record-codec.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap/heap-keyed-state-backend.ts';
import type { EncodedEntries, KeyedStateSnapshotData } from '../../src/state/keyed-state-backend.ts';
import { ByteReader, ByteWriter, readStored, readValue } from '../../src/state/state-codec.ts';
import { runKeyedStateBackendContract } from './keyed-state-backend.contract.ts';

runKeyedStateBackendContract('HeapKeyedStateBackend', (opts) => new HeapKeyedStateBackend(opts));

const full = (): HeapKeyedStateBackend =>
  new HeapKeyedStateBackend({ maxParallelism: 16, keyGroupRange: { start: 0, end: 15 }, where: 'test operator' });

test('heap: values are stored by reference while no snapshot is live', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number }>('v'));
  const list = b.getListState(new ListStateDescriptor<number>('l'));
  b.setCurrentKey('k');
  const stored = { n: 1 };
  value.update(stored);
  assert.equal(value.value(), stored);
  list.add(1);
  assert.equal(list.get(), list.get());
  b.dispose();
});

test('heap: a value shared with a snapshot is saved encoded, and the live value stays the same object', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number; d: Date; m: Map<string, number[]> }>('v'));
  b.setCurrentKey('k');
  const original = { n: 1, d: new Date(5), m: new Map([['a', [1]]]) };
  value.update(original);
  const snapshot = b.snapshot();
  const live = value.value()!;
  assert.equal(live, original, 'no copy on the heap');
  live.m.get('a')!.push(2);
  live.n = 7;
  assert.equal(value.value(), original);
  const [[key, saved]] = [...snapshot.entries('v', b.getCurrentKeyGroup())] as [[unknown, typeof original]];
  assert.equal(key, 'k');
  assert.notEqual(saved, original);
  assert.deepEqual(saved, { n: 1, d: new Date(5), m: new Map([['a', [1]]]) });
  assert.ok(saved.d instanceof Date && saved.m instanceof Map);
  assert.deepEqual(original.m.get('a'), [1, 2]);
  snapshot.release();
  b.dispose();
});

test('heap: outside snapshots, and after release, values are handed out as they are', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number }>('v'));
  b.setCurrentKey('k');
  value.update({ n: 1 });
  const snapshot = b.snapshot();
  snapshot.release();
  const stored = value.value()!;
  assert.equal(value.value(), stored);
  const other = b.snapshot();
  const another = b.snapshot();
  other.release();
  const shared = value.value()!;
  assert.equal(shared, stored);
  shared.n = 2;
  assert.deepEqual([...another.entries('v', b.getCurrentKeyGroup())], [['k', { n: 1 }]]);
  another.release();
  assert.equal(value.value(), stored);
  assert.equal(stored.n, 2);
  b.dispose();
});

test('heap: markWritten ends a snapshot\'s view of the key groups written; the others stay as they were', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number }>('v'));
  const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
  const groupOf = new Map<string, number>();
  for (const k of keys) {
    b.setCurrentKey(k);
    groupOf.set(k, b.getCurrentKeyGroup());
    value.update({ n: 0 });
  }
  const snapshot = b.snapshot();
  snapshot.markWritten!(7);
  for (const k of keys) {
    b.setCurrentKey(k);
    value.value()!.n++;
    if (k.endsWith('3')) value.clear();
  }
  for (let kg = 0; kg < 16; kg++) {
    if (kg <= 7) {
      assert.throws(() => snapshot.entries('v', kg), /was written and is no longer kept/);
      assert.throws(() => snapshot.encodedEntries!('v', kg), /was written and is no longer kept/);
      continue;
    }
    const expected = keys.filter((k) => groupOf.get(k) === kg).map((k) => [k, { n: 0 }]);
    assert.deepEqual(sortRows([...snapshot.entries('v', kg)]), sortRows(expected));
    assert.deepEqual(sortRows(decodeAll(snapshot.encodedEntries!('v', kg), 'value')), sortRows(expected));
  }
  snapshot.release();
  b.dispose();
});

test('heap: copies of class instances keep their prototype', () => {
  class Point {
    constructor(public x: number, public y: number) {}
    norm(): number {
      return Math.abs(this.x) + Math.abs(this.y);
    }
  }
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<Point>('p'));
  b.setCurrentKey(1);
  value.update(new Point(1, 2));
  const snapshot = b.snapshot();
  const p = value.value()!;
  assert.ok(p instanceof Point);
  p.x = 10;
  assert.equal(p.norm(), 12);
  const [[, stored]] = [...snapshot.entries('p', b.getCurrentKeyGroup())] as [[unknown, Point]];
  assert.equal(stored.x, 1);
  snapshot.release();
  b.dispose();
});

test('heap: the snapshot exposes map state as canonical key → [user key, value]', () => {
  const b = full();
  const map = b.getMapState(new MapStateDescriptor<unknown, number>('m'));
  b.setCurrentKey('k');
  map.put(['a', 1], 1);
  map.put('b', 2);
  const snapshot = b.snapshot();
  const [[key, stored]] = [...snapshot.entries('m', b.getCurrentKeyGroup())] as [[unknown, Map<unknown, [unknown, unknown]>]];
  assert.equal(key, 'k');
  assert.ok(stored instanceof Map);
  assert.deepEqual([...stored.values()], [[['a', 1], 1], ['b', 2]]);
  snapshot.release();
  b.dispose();
});

test('heap: snapshot errors for released snapshots, unknown states and foreign key groups', () => {
  const b = new HeapKeyedStateBackend({ maxParallelism: 16, keyGroupRange: { start: 4, end: 7 } });
  b.getValueState(new ValueStateDescriptor<number>('v'));
  const snapshot = b.snapshot();
  assert.deepEqual([...snapshot.entries('v', 4)], []);
  assert.throws(() => snapshot.entries('v', 3), RangeError);
  assert.throws(() => snapshot.entries('nope', 4), /nope/);
  snapshot.release();
  assert.throws(() => snapshot.entries('v', 4), /released/);
  b.dispose();
});

test('heap: restore rejects an entry filed under the wrong key group', () => {
  const b = full();
  b.setCurrentKey('k');
  const wrong = (b.getCurrentKeyGroup() + 1) % 16;
  assert.throws(
    () => b.restore([{ name: 'v', kind: 'value', keyGroup: wrong, entries: [['k', 1]] }]),
    /maxParallelism/,
  );
  b.dispose();
});

test('heap: state access without a current key is an error naming the state', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<number>('lonely'));
  assert.throws(() => value.value(), /lonely/);
  b.dispose();
});

test('heap: invalid constructor arguments', () => {
  assert.throws(() => new HeapKeyedStateBackend({ maxParallelism: 0, keyGroupRange: { start: 0, end: 0 } }), RangeError);
  assert.throws(() => new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: { start: 4, end: 8 } }), RangeError);
  assert.throws(() => new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: { start: 5, end: 4 } }), RangeError);
});

test('heap: two live snapshots: one that has written a key group does not stop the other from keeping it', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number }>('v'));
  const list = b.getListState(new ListStateDescriptor<number>('l'));
  b.setCurrentKey('k');
  const kg = b.getCurrentKeyGroup();
  value.update({ n: 1 });
  list.add(1);
  const first = b.snapshot();
  value.value()!.n = 2;
  list.add(2);
  const second = b.snapshot();
  first.markWritten!(kg);
  value.value()!.n = 3;
  list.get().push(3);
  assert.throws(() => first.entries('v', kg), /was written/);
  assert.deepEqual([...second.entries('v', kg)], [['k', { n: 2 }]]);
  assert.deepEqual(decodeAll(second.encodedEntries!('l', kg), 'list'), [['k', [1, 2]]]);
  second.markWritten!(kg);
  value.value()!.n = 4;
  first.release();
  second.release();
  const third = b.snapshot();
  assert.deepEqual([...third.entries('v', kg)], [['k', { n: 4 }]]);
  third.release();
  b.dispose();
});

test('heap: a value the codec refuses is kept as an object copy, and encoding it names the problem', () => {
  class Opaque {
    constructor(public n: number) {}
  }
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<Opaque>('o'));
  b.setCurrentKey('k');
  value.update(new Opaque(1));
  const snapshot = b.snapshot();
  const live = value.value()!;
  live.n = 2;
  const [[, saved]] = [...snapshot.entries('o', b.getCurrentKeyGroup())] as [[unknown, Opaque]];
  assert.ok(saved instanceof Opaque && saved.n === 1 && saved !== live);
  const entries = snapshot.encodedEntries!('o', b.getCurrentKeyGroup());
  assert.throws(() => entries.encodeInto(new ByteWriter(Buffer.alloc(16)), 1 << 20, 10), /Opaque/);
  assert.equal(entries.key, 'k');
  snapshot.release();
  b.dispose();
});

test('heap: old values of key groups not yet written are handed over by takeSaved, once, and then left out', () => {
  const b = new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: { start: 2, end: 5 } });
  const value = b.getValueState(new ValueStateDescriptor<{ n: number }>('v'));
  const byGroup = new Map<number, number[]>();
  for (let k = 0; byGroup.size < 4 || [...byGroup.values()].some((ks) => ks.length < 2); k++) {
    try {
      b.setCurrentKey(k);
    } catch {
      continue; // a key group outside the range
    }
    value.update({ n: k });
    const list = byGroup.get(b.getCurrentKeyGroup()) ?? [];
    list.push(k);
    byGroup.set(b.getCurrentKeyGroup(), list);
  }
  const snapshot = b.snapshot();
  snapshot.markWritten!(2);
  // Mutated in place: saved encoded; key group 3 is the one being written, 4 and 5 are later.
  for (const kg of [3, 4, 5]) {
    b.setCurrentKey(byGroup.get(kg)![0]!);
    value.value()!.n += 1000;
  }
  assert.ok(snapshot.savedBytes!() > 0);
  const taken: [number, number, unknown, unknown][] = [];
  snapshot.takeSaved!((state, keyGroup, bytes, start, end) => {
    const r = new ByteReader(bytes, start, end);
    taken.push([state, keyGroup, readValue(r), readStored(r, 'value')]);
  });
  assert.deepEqual(
    taken.sort((x, y) => x[1] - y[1]),
    [4, 5].map((kg) => [0, kg, byGroup.get(kg)![0], { n: byGroup.get(kg)![0] }]),
  );
  assert.equal(snapshot.savedBytes!(), 0);
  snapshot.takeSaved!(() => assert.fail('nothing is handed over twice'));
  assert.throws(() => snapshot.entries('v', 4), /handed old values to its writer/);
  for (const kg of [3, 4, 5]) {
    const rows = decodeAll(snapshot.encodedEntries!('v', kg), 'value');
    const expected = byGroup.get(kg)!.filter((k) => kg === 3 || k !== byGroup.get(kg)![0]).map((k) => [k, { n: k }]);
    assert.deepEqual(sortRows(rows), sortRows(expected), `key group ${kg}`);
  }
  snapshot.release();
  b.dispose();
});

/** Every entry left in `entries`, encoded in parts of at most `perCall` and decoded again. */
function decodeAll(entries: EncodedEntries, kind: StateKind, perCall = 1000): [unknown, unknown][] {
  const w = new ByteWriter(Buffer.alloc(16));
  while (!entries.done) entries.encodeInto(w, 1 << 20, perCall);
  return decodeRows(w, kind);
}

function decodeRows(w: ByteWriter, kind: StateKind): [unknown, unknown][] {
  const r = new ByteReader(w.bytes, 0, w.pos);
  const out: [unknown, unknown][] = [];
  while (r.pos < r.end) {
    const key = readValue(r);
    out.push([key, readStored(r, kind)]);
  }
  return out;
}

function sortRows<T extends readonly unknown[]>(rows: T[]): T[] {
  return rows.sort((a, b) => (JSON.stringify(a[0]) < JSON.stringify(b[0]) ? -1 : 1));
}

test('heap: encoded entries and the old values taken early hold the snapshot while the live state changes (model check)', () => {
  type Op =
    | { t: 'key'; key: number }
    | { t: 'update'; n: number }
    | { t: 'mutate'; n: number }
    | { t: 'clear' }
    | { t: 'listAdd'; n: number }
    | { t: 'listPush'; n: number }
    | { t: 'mapPut'; uk: string; n: number }
    | { t: 'mapRemove'; uk: string }
    | { t: 'encode'; entries: number }
    | { t: 'take' };
  const n = fc.integer({ min: -3, max: 3 });
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ t: fc.constant('key' as const), key: fc.integer({ min: 0, max: 59 }) }) },
    fc.record({ t: fc.constant('update' as const), n }),
    fc.record({ t: fc.constant('mutate' as const), n }),
    fc.record({ t: fc.constant('clear' as const) }),
    fc.record({ t: fc.constant('listAdd' as const), n }),
    fc.record({ t: fc.constant('listPush' as const), n }),
    fc.record({ t: fc.constant('mapPut' as const), uk: fc.constantFrom('p', 'q', 'r'), n }),
    fc.record({ t: fc.constant('mapRemove' as const), uk: fc.constantFrom('p', 'q', 'r') }),
    { weight: 4, arbitrary: fc.record({ t: fc.constant('encode' as const), entries: fc.integer({ min: 1, max: 4 }) }) },
    fc.record({ t: fc.constant('take' as const) }),
  );
  const states: [string, StateKind][] = [
    ['v', 'value'],
    ['l', 'list'],
    ['m', 'map'],
  ];
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 59 }), { maxLength: 40 }), fc.array(opArb, { maxLength: 300 }), (initial, ops) => {
      const b = new HeapKeyedStateBackend({ maxParallelism: 8, keyGroupRange: { start: 0, end: 7 } });
      const value = b.getValueState(new ValueStateDescriptor<{ n: number; tags: number[] }>('v'));
      const list = b.getListState(new ListStateDescriptor<number>('l'));
      const map = b.getMapState(new MapStateDescriptor<string, { n: number }>('m'));
      for (const k of initial) {
        b.setCurrentKey(k);
        value.update({ n: k, tags: [k] });
        list.add(k);
        map.put(`u${k % 3}`, { n: k });
      }
      const snapshot = b.snapshot();
      // What the snapshot must hold, copied before anything changes.
      const expected = new Map<string, [unknown, unknown][]>();
      for (const [name, kind] of states) {
        for (let kg = 0; kg < 8; kg++) {
          const rows = [...snapshot.entries(name, kg)].map(([k, v]) => [k, kind === 'map' ? [...(v as Map<unknown, unknown>).values()] : v]);
          expected.set(`${name}/${kg}`, decodeValue(encodeValue(rows)) as [unknown, unknown][]);
        }
      }
      const apply = (op: Op): void => {
        switch (op.t) {
          case 'key':
            b.setCurrentKey(op.key);
            return;
          case 'update':
            value.update({ n: op.n, tags: [] });
            return;
          case 'mutate': {
            const v = value.value();
            if (v !== undefined) {
              v.n += op.n;
              v.tags.push(op.n);
            }
            return;
          }
          case 'clear':
            value.clear();
            list.clear();
            map.clear();
            return;
          case 'listAdd':
            list.add(op.n);
            return;
          case 'listPush':
            list.get().push(op.n);
            return;
          case 'mapPut': {
            const v = map.get(op.uk);
            if (v !== undefined) v.n += op.n;
            else map.put(op.uk, { n: op.n });
            return;
          }
          case 'mapRemove':
            map.remove(op.uk);
            return;
          case 'encode':
            return;
          case 'take':
            snapshot.takeSaved!((state, keyGroup, bytes, start, end) => {
              const [name, kind] = states[state]!;
              const r = new ByteReader(bytes, start, end);
              const key = readValue(r);
              const value = readStored(r, kind);
              assert.equal(r.pos, end);
              const rows = taken.get(`${name}/${keyGroup}`) ?? [];
              rows.push([key, kind === 'map' ? [...(value as Map<unknown, unknown>).values()] : value]);
              taken.set(`${name}/${keyGroup}`, rows);
            });
            return;
        }
      };
      /** Entries handed over by takeSaved, by state and key group. */
      const taken = new Map<string, unknown[][]>();
      b.setCurrentKey(0);
      let next = 0;
      const w = new ByteWriter(Buffer.alloc(16));
      for (let kg = 0; kg < 8; kg++) {
        for (const [name, kind] of states) {
          const entries = snapshot.encodedEntries!(name, kg);
          w.pos = 0;
          while (!entries.done) {
            // Apply the operations up to the next encode step, then encode a part.
            let entriesPerCall = 1;
            while (next < ops.length) {
              const op = ops[next++]!;
              if (op.t === 'encode') {
                entriesPerCall = op.entries;
                break;
              }
              apply(op);
            }
            entries.encodeInto(w, 1 << 20, entriesPerCall);
          }
          const rows = decodeRows(w, kind).map(([k, v]) => [k, kind === 'map' ? [...(v as Map<unknown, unknown>).values()] : v]);
          rows.push(...((taken.get(`${name}/${kg}`) ?? []) as [unknown, unknown][]));
          assert.deepEqual(sortRows(rows), sortRows(expected.get(`${name}/${kg}`)!), `${name} in key group ${kg}`);
        }
        snapshot.markWritten!(kg);
      }
      snapshot.release();
      b.dispose();
    }),
    { numRuns: 200 },
  );
});

test('heap: a state read after any mix of key switches, updates, clears, snapshots and restores answers as a plain Map would', () => {
  type Op =
    | { op: 'key'; key: number }
    | { op: 'update'; value: number }
    | { op: 'clear' }
    | { op: 'read' }
    | { op: 'snapshot' }
    | { op: 'restore' };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('key' as const), key: fc.integer({ min: 0, max: 5 }) }),
    fc.record({ op: fc.constant('update' as const), value: fc.integer({ min: -3, max: 3 }) }),
    fc.constant({ op: 'clear' as const }),
    fc.constant({ op: 'read' as const }),
    fc.constant({ op: 'snapshot' as const }),
    fc.constant({ op: 'restore' as const }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 80 }), (ops) => {
      let backend = full();
      let state = backend.getValueState(new ValueStateDescriptor<number>('v'));
      const model = new Map<number, number>();
      let key: number | undefined;
      const snapshots: { data: KeyedStateSnapshotData[]; model: Map<number, number> }[] = [];
      for (const o of ops) {
        if (o.op === 'key') {
          key = o.key;
          backend.setCurrentKey(key);
          continue;
        }
        if (o.op === 'snapshot') {
          snapshots.push({ data: dataOf(backend), model: new Map(model) });
          continue;
        }
        if (o.op === 'restore') {
          const last = snapshots.at(-1);
          if (last === undefined) continue;
          backend = full();
          backend.restore(last.data);
          state = backend.getValueState(new ValueStateDescriptor<number>('v'));
          model.clear();
          for (const [k, v] of last.model) model.set(k, v);
          if (key !== undefined) backend.setCurrentKey(key);
          continue;
        }
        if (key === undefined) continue;
        if (o.op === 'update') {
          const before = state.value();
          assert.equal(before, model.get(key));
          state.update(o.value);
          model.set(key, o.value);
        } else if (o.op === 'clear') {
          state.clear();
          model.delete(key);
        }
        assert.equal(state.value(), model.get(key), `key ${key} after ${o.op}`);
      }
    }),
    { numRuns: 300 },
  );
});

/** A whole snapshot's data as restore() takes it, read at once and released. */
function dataOf(backend: HeapKeyedStateBackend): KeyedStateSnapshotData[] {
  const snapshot = backend.snapshot();
  try {
    const out: KeyedStateSnapshotData[] = [];
    for (const { name, kind } of snapshot.states) {
      for (let keyGroup = 0; keyGroup < 16; keyGroup++) {
        out.push({ name, kind, keyGroup, entries: [...snapshot.entries(name, keyGroup)] });
      }
    }
    return out;
  } finally {
    snapshot.release();
  }
}

test('heap: a state registered after keys have values in others shares their rows; each state keeps and clears its own entries', () => {
  const b = full();
  const a = b.getValueState(new ValueStateDescriptor<number>('a'));
  for (const k of ['x', 'y']) {
    b.setCurrentKey(k);
    a.update(k === 'x' ? 1 : 2);
  }
  const late = b.getValueState(new ValueStateDescriptor<number>('late')); // rows made before it have no cell for it
  b.setCurrentKey('x');
  assert.equal(late.value(), undefined);
  late.update(10);
  const snapshot = b.snapshot();
  a.clear(); // the row stays: 'late' still has x
  assert.equal(a.value(), undefined);
  assert.equal(late.value(), 10);
  assert.deepEqual([...b.keys('a')], ['y']);
  assert.deepEqual([...b.keys('late')], ['x']);
  late.clear(); // now the row is gone
  b.setCurrentKey('y');
  b.setCurrentKey('x');
  assert.equal(late.value(), undefined);
  assert.equal(a.value(), undefined);
  a.update(3); // a new row for x
  assert.deepEqual([...b.keys('a')].sort(), ['x', 'y']);
  // The snapshot sees both states as they were when it was taken.
  const seen = (name: string): unknown[] =>
    Array.from({ length: 16 }, (_, g) => [...snapshot.entries(name, g)]).flat().sort((p, q) => String(p[0]).localeCompare(String(q[0])));
  assert.deepEqual(seen('a'), [['x', 1], ['y', 2]]);
  assert.deepEqual(seen('late'), [['x', 10]]);
  snapshot.release();
  b.dispose();
});

test('heap: registering a second state while a key is current and a snapshot is being encoded keeps both views', () => {
  const b = full();
  const a = b.getValueState(new ValueStateDescriptor<{ n: number }>('a'));
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
  const groupOf = new Map<string, number>();
  for (const [i, k] of keys.entries()) {
    b.setCurrentKey(k);
    groupOf.set(k, b.getCurrentKeyGroup());
    a.update({ n: i });
  }
  const group = groupOf.get('k0')!;
  const inGroup = keys.filter((k) => groupOf.get(k) === group);
  assert.ok(inGroup.length >= 2, 'the test needs two keys in one key group');
  const snapshot = b.snapshot();
  const encoded = snapshot.encodedEntries!('a', group);
  const w = new ByteWriter(Buffer.alloc(16));
  encoded.encodeInto(w, 1 << 20, 1); // one entry encoded before the second state exists
  b.setCurrentKey('k0');
  assert.deepEqual(a.value(), { n: 0 }); // the current key's entry is looked up and cached
  const second = b.getValueState(new ValueStateDescriptor<number>('second'));
  // Same key, no key switch: the state that existed reads and writes its entry, not a new one.
  a.update({ n: 100 });
  second.update(7);
  assert.deepEqual(a.value(), { n: 100 });
  assert.equal(second.value(), 7);
  b.setCurrentKey(inGroup[1]!);
  a.value()!.n += 1000; // mutated in place while the snapshot shares it
  b.setCurrentKey(inGroup[inGroup.length - 1]!);
  a.clear();
  while (!encoded.done) encoded.encodeInto(w, 1 << 20, 1000);
  const expected = inGroup.map((k) => [k, { n: keys.indexOf(k) }]);
  assert.deepEqual(sortRows(decodeRows(w, 'value')), sortRows(expected));
  assert.deepEqual(sortRows([...snapshot.entries('a', groupOf.get('k1')!)]), sortRows(keys.filter((k) => groupOf.get(k) === groupOf.get('k1')).map((k) => [k, { n: keys.indexOf(k) }])));
  assert.throws(() => snapshot.entries('second', group), /no state named 'second'/); // registered after it
  snapshot.release();
  // The live state after the change of layout.
  const live = new Map([...b.keys('a')].map((k) => { b.setCurrentKey(k); return [k, a.value()!.n]; }));
  assert.equal(live.size, keys.length - 1);
  assert.equal(live.get('k0'), 100);
  assert.equal(live.get(inGroup[1]!), keys.indexOf(inGroup[1]!) + 1000);
  assert.equal(live.has(inGroup[inGroup.length - 1]!), false);
  assert.deepEqual([...b.keys('second')], ['k0']);
  b.dispose();
});

test('heap: a restore that fills one state and then another keeps both per key', () => {
  const source = full();
  const a = source.getValueState(new ValueStateDescriptor<number>('a'));
  const c = source.getValueState(new ValueStateDescriptor<string>('c'));
  for (let i = 0; i < 50; i++) {
    source.setCurrentKey(i);
    a.update(i);
    if (i % 3 === 0) c.update(`c${i}`);
  }
  // Every part of 'a' first, then those of 'c': the target has one state until the first part of 'c'.
  const data = dataOf(source).sort((p, q) => p.name.localeCompare(q.name));
  source.dispose();
  const target = full();
  target.restore(data);
  const ra = target.getValueState(new ValueStateDescriptor<number>('a'));
  const rc = target.getValueState(new ValueStateDescriptor<string>('c'));
  for (let i = 0; i < 50; i++) {
    target.setCurrentKey(i);
    assert.equal(ra.value(), i);
    assert.equal(rc.value(), i % 3 === 0 ? `c${i}` : undefined);
  }
  assert.equal([...target.keys('a')].length, 50);
  assert.equal([...target.keys('c')].length, 17);
  target.dispose();
});
