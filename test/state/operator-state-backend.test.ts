import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStateDescriptor } from '../../src/api/state.ts';
import {
  OperatorStateBackend,
  redistributeOperatorState,
  type OperatorStateSnapshotData,
} from '../../src/state/operator-state-backend.ts';

const offsets = new ListStateDescriptor<number>('offsets');
const splits = new ListStateDescriptor<string>('splits');

/** Snapshots of `parallelism` subtasks; subtask i holds `counts[i]` offsets and one union entry. */
function oldSubtasks(counts: number[]): OperatorStateSnapshotData[][] {
  let next = 0;
  return counts.map((count, i) => {
    const backend = new OperatorStateBackend();
    const list = backend.getListState(offsets);
    for (let j = 0; j < count; j++) list.add(next++);
    backend.getUnionListState(splits).add(`s${i}`);
    return backend.snapshot();
  });
}

function values(data: readonly OperatorStateSnapshotData[], name: string): unknown[] {
  return data.filter((d) => d.name === name).flatMap((d) => d.values);
}

test('list and union list state: add, addAll, update, clear, same object per name', () => {
  const b = new OperatorStateBackend();
  const list = b.getListState(offsets);
  assert.equal(b.getListState(offsets), list);
  assert.deepEqual(list.get(), []);
  list.add(1);
  list.addAll([2, 3]);
  assert.deepEqual(list.get(), [1, 2, 3]);
  list.update([7]);
  assert.deepEqual(list.get(), [7]);
  list.clear();
  assert.deepEqual(list.get(), []);
  const union = b.getUnionListState(splits);
  union.add('a');
  assert.deepEqual(union.get(), ['a']);
});

test('snapshot copies the values; restore reproduces them in a fresh backend', () => {
  const b = new OperatorStateBackend();
  const list = b.getListState(new ListStateDescriptor<{ offset: number }>('positions'));
  list.add({ offset: 1 });
  b.getUnionListState(splits).add('x');
  b.getListState(new ListStateDescriptor('empty'));
  const snapshot = b.snapshot();
  list.get()[0]!.offset = 99;
  list.add({ offset: 2 });
  assert.deepEqual(snapshot, [
    { name: 'positions', mode: 'split', values: [{ offset: 1 }] },
    { name: 'splits', mode: 'union', values: ['x'] },
    { name: 'empty', mode: 'split', values: [] },
  ]);

  const restored = new OperatorStateBackend();
  restored.restore(snapshot);
  const positions = restored.getListState(new ListStateDescriptor<{ offset: number }>('positions'));
  assert.deepEqual(positions.get(), [{ offset: 1 }]);
  positions.get()[0]!.offset = 5;
  assert.deepEqual(snapshot[0]!.values, [{ offset: 1 }], 'restore copies');
  assert.deepEqual(restored.getUnionListState(splits).get(), ['x']);
  assert.throws(() => restored.getListState(splits), /splits/);
  assert.deepEqual(restored.snapshot().map((d) => d.name), ['positions', 'splits', 'empty']);
});

for (const [from, to, counts] of [
  [2, 3, [4, 3]],
  [3, 1, [2, 0, 5]],
  [1, 4, [10]],
  [1, 4, [2]],
] as const) {
  test(`redistribution ${from} → ${to} (${counts.join('+')} split elements)`, () => {
    const old = oldSubtasks([...counts]);
    const total = counts.reduce<number>((a, b) => a + b, 0);
    const next = redistributeOperatorState(old, to);
    assert.equal(next.length, to);

    const dealt = next.map((data) => values(data, 'offsets'));
    assert.deepEqual(dealt.flat(), Array.from({ length: total }, (_, i) => i), 'split: every element once, in order');
    const sizes = dealt.map((d) => d.length);
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `split as even as possible: ${sizes.join(',')}`);

    const allSplits = Array.from({ length: from }, (_, i) => `s${i}`);
    for (const data of next) {
      assert.deepEqual(values(data, 'splits'), allSplits, 'union: every subtask gets all');
      assert.deepEqual(data.map((d) => d.name).sort(), ['offsets', 'splits'], 'every state named for every subtask');
      const backend = new OperatorStateBackend();
      backend.restore(data);
      assert.deepEqual(backend.getUnionListState(splits).get(), allSplits);
      assert.deepEqual(backend.getListState(offsets).get(), values(data, 'offsets'));
    }
  });
}

test('same name with two modes is an error', () => {
  const b = new OperatorStateBackend();
  b.getListState(offsets);
  assert.throws(() => b.getUnionListState(offsets), /offsets/);
  assert.throws(
    () =>
      redistributeOperatorState(
        [[{ name: 'x', mode: 'split', values: [1] }], [{ name: 'x', mode: 'union', values: [2] }]],
        2,
      ),
    /'x'.*split.*union/,
  );
  assert.throws(() => b.restore([{ name: 'offsets', mode: 'union', values: [] }]), /offsets/);
  assert.throws(() => redistributeOperatorState([], 0), RangeError);
});
