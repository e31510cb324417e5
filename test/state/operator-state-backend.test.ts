import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListStateDescriptor } from '../../src/api/state.ts';
import {
  DefaultOperatorStateBackend,
  redistributeOperatorState,
  type OperatorStateSnapshotData,
} from '../../src/state/operator-state-backend.ts';
import { runOperatorStateBackendContract } from './operator-state-backend.contract.ts';

const offsets = new ListStateDescriptor<number>('offsets');
const splits = new ListStateDescriptor<string>('splits');

/** Snapshots of `parallelism` subtasks; subtask i holds `counts[i]` offsets and one union entry. */
function oldSubtasks(counts: number[]): OperatorStateSnapshotData[][] {
  let next = 0;
  return counts.map((count, i) => {
    const backend = new DefaultOperatorStateBackend();
    const list = backend.getListState(offsets);
    for (let j = 0; j < count; j++) list.add(next++);
    backend.getUnionListState(splits).add(`s${i}`);
    return backend.snapshot();
  });
}

function values(data: readonly OperatorStateSnapshotData[], name: string): unknown[] {
  return data.filter((d) => d.name === name).flatMap((d) => d.values);
}

runOperatorStateBackendContract('DefaultOperatorStateBackend', () => new DefaultOperatorStateBackend());

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
      const backend = new DefaultOperatorStateBackend();
      backend.restore(data);
      assert.deepEqual(backend.getUnionListState(splits).get(), allSplits);
      assert.deepEqual(backend.getListState(offsets).get(), values(data, 'offsets'));
    }
  });
}

test('same name with two modes is an error', () => {
  const b = new DefaultOperatorStateBackend();
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
