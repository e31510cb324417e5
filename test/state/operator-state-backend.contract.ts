/**
 * Behaviour every OperatorStateBackend must have: list and union list state per name, snapshots
 * that are deep copies, restores that copy, and one mode per name. A backend's test calls
 * runOperatorStateBackendContract with a factory of fresh, empty backends.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStateDescriptor } from '../../src/api/state.ts';
import type { OperatorStateBackend } from '../../src/state/operator-state-backend.ts';

const offsets = new ListStateDescriptor<number>('offsets');
const splits = new ListStateDescriptor<string>('splits');

export function runOperatorStateBackendContract(name: string, create: () => OperatorStateBackend): void {
  describe(`${name}: operator state backend contract`, () => {
    test('list and union list state: add, addAll, update, clear, same object per name', () => {
      const b = create();
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
      const b = create();
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

      const restored = create();
      restored.restore(snapshot);
      const positions = restored.getListState(new ListStateDescriptor<{ offset: number }>('positions'));
      assert.deepEqual(positions.get(), [{ offset: 1 }]);
      positions.get()[0]!.offset = 5;
      assert.deepEqual(snapshot[0]!.values, [{ offset: 1 }], 'restore copies');
      assert.deepEqual(restored.getUnionListState(splits).get(), ['x']);
      assert.throws(() => restored.getListState(splits), /splits/);
      assert.deepEqual(restored.snapshot().map((d) => d.name), ['positions', 'splits', 'empty']);
    });

    test('same name with two modes is an error', () => {
      const b = create();
      b.getListState(offsets);
      assert.throws(() => b.getUnionListState(offsets), /offsets/);
      b.getUnionListState(splits);
      assert.throws(() => b.getListState(splits), /splits/);
      assert.throws(() => create().restore([{ name: 'x', mode: 'split', values: [1] }, { name: 'x', mode: 'union', values: [2] }]), /'x'/);
    });

    test('restore concatenates parts of one name in order', () => {
      const b = create();
      b.restore([{ name: 'offsets', mode: 'split', values: [1, 2] }, { name: 'offsets', mode: 'split', values: [3] }]);
      assert.deepEqual(b.getListState(offsets).get(), [1, 2, 3]);
    });
  });
}
