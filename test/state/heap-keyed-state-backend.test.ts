import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/api/state.ts';
import { HeapKeyedStateBackend } from '../../src/state/heap/heap-keyed-state-backend.ts';
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

test('heap: a value shared with a snapshot is copied once, then handed out by reference', () => {
  const b = full();
  const value = b.getValueState(new ValueStateDescriptor<{ n: number; d: Date; m: Map<string, number[]> }>('v'));
  b.setCurrentKey('k');
  const original = { n: 1, d: new Date(5), m: new Map([['a', [1]]]) };
  value.update(original);
  const snapshot = b.snapshot();
  const copy = value.value()!;
  assert.notEqual(copy, original);
  assert.deepEqual(copy, original);
  assert.ok(copy.d instanceof Date && copy.m instanceof Map);
  assert.equal(value.value(), copy);
  copy.m.get('a')!.push(2);
  assert.deepEqual([...snapshot.entries('v', b.getCurrentKeyGroup())], [['k', original]]);
  assert.deepEqual(original.m.get('a'), [1]);
  snapshot.release();
  b.dispose();
});

test('heap: after release, values are no longer copied', () => {
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
  assert.notEqual(value.value(), stored, 'a snapshot still live shares the value');
  another.release();
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
