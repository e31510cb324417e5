/**
 * End to end: every partitioner routes records where it promises to, in both execution modes,
 * and in threads mode parallel subtasks really run on different threads.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { threadId } from 'node:worker_threads';
import { RichMapFunction, StreamExecutionEnvironment } from 'weir';
import { runJob } from 'weir/testing';
import { assignToKeyGroup, computeOperatorIndexForKeyGroup } from '../../src/core/key-group.ts';
import type { Row } from '../jobs/partitioners.ts';

const JOB = 'test/jobs/partitioners.ts';
const N = 2000;
const PRODUCERS = 2;

/** Records of one branch, and counts by consumer and by (producer, consumer). */
function branch(rows: Row[], name: string) {
  const own = rows.filter((r) => r[0] === name);
  const byConsumer = new Map<number, number>();
  const byPair = new Map<string, number>();
  for (const [, p, c] of own) {
    byConsumer.set(c, (byConsumer.get(c) ?? 0) + 1);
    byPair.set(`${p}->${c}`, (byPair.get(`${p}->${c}`) ?? 0) + 1);
  }
  return { own, byConsumer, byPair };
}

/** fromSequence(0, N-1) at parallelism 2 gives producer 0 the first half, producer 1 the rest. */
function producerOf(v: number): number {
  return v < N / 2 ? 0 : 1;
}

function values(rows: Row[]): number[] {
  return rows.map((r) => r[3]).sort((a, b) => a - b);
}

const ALL = Array.from({ length: N }, (_, i) => i);

for (const mode of ['threads', 'inline'] as const) {
  describe(`partitioners (${mode})`, () => {
    let rows: Row[] = [];

    it('runs the job', async () => {
      const outcome = await runJob(JOB, { args: [String(N)], mode });
      rows = outcome.collected as Row[];
      assert.ok(rows.length > 0);
    });

    it('every producer index is the one its sequence range belongs to', () => {
      for (const r of rows) assert.equal(r[1], producerOf(r[3]), `${r[0]}: value ${r[3]} stamped by producer ${r[1]}`);
    });

    it('forward keeps each record on its producer’s subtask index', () => {
      const { own } = branch(rows, 'forward');
      assert.deepEqual(values(own), ALL);
      for (const [, p, c, v] of own) assert.equal(c, p, `value ${v} went from ${p} to ${c}`);
    });

    it('hash sends each key to exactly the subtask its key group belongs to', () => {
      const { own } = branch(rows, 'hash');
      assert.deepEqual(values(own), ALL);
      const subtaskOfKey = new Map<number, Set<number>>();
      for (const [, , c, v, , maxP] of own) {
        const key = v % 10;
        const set = subtaskOfKey.get(key) ?? new Set<number>();
        set.add(c);
        subtaskOfKey.set(key, set);
        assert.equal(maxP, 128, 'default maxParallelism for parallelism 3');
        assert.equal(c, computeOperatorIndexForKeyGroup(maxP, 3, assignToKeyGroup(key, maxP)), `key ${key}`);
      }
      for (const [key, set] of subtaskOfKey) assert.equal(set.size, 1, `key ${key} reached subtasks ${[...set]}`);
    });

    it('rebalance spreads each producer’s records evenly over all consumers', () => {
      const { own, byPair } = branch(rows, 'rebalance');
      assert.deepEqual(values(own), ALL);
      for (let p = 0; p < PRODUCERS; p++) {
        const counts = [0, 1, 2].map((c) => byPair.get(`${p}->${c}`) ?? 0);
        assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `producer ${p} sent ${counts}`);
      }
    });

    it('rescale from parallelism 2 to 4 sends only to the point-wise pair', () => {
      const { own, byPair } = branch(rows, 'rescale');
      assert.deepEqual(values(own), ALL);
      const allowed = new Set(['0->0', '0->1', '1->2', '1->3']);
      for (const pair of byPair.keys()) assert.ok(allowed.has(pair), `rescale used ${pair}`);
      for (const pair of allowed) assert.ok((byPair.get(pair) ?? 0) > 0, `rescale never used ${pair}`);
      // round robin within the group: an even split
      assert.ok(Math.abs(byPair.get('0->0')! - byPair.get('0->1')!) <= 1);
      assert.ok(Math.abs(byPair.get('1->2')! - byPair.get('1->3')!) <= 1);
    });

    it('broadcast delivers every record to every consumer subtask', () => {
      const { own, byConsumer } = branch(rows, 'broadcast');
      assert.equal(own.length, N * 3);
      for (let c = 0; c < 3; c++) {
        assert.deepEqual(values(own.filter((r) => r[2] === c)), ALL, `consumer ${c}`);
      }
      assert.equal(byConsumer.size, 3);
    });

    it('shuffle delivers every record exactly once, to more than one consumer', () => {
      const { own, byConsumer } = branch(rows, 'shuffle');
      assert.deepEqual(values(own), ALL);
      assert.ok(byConsumer.size > 1, `shuffle used only ${[...byConsumer.keys()]}`);
    });

    it('global delivers everything to subtask 0', () => {
      const { own, byConsumer } = branch(rows, 'global');
      assert.deepEqual(values(own), ALL);
      assert.deepEqual([...byConsumer.keys()], [0]);
    });

    if (mode === 'threads') {
      it('different subtasks run on different threads, none on the launcher thread', () => {
        const threadOfSubtask = new Map<number, Set<number>>();
        for (const [, , c, , tid] of rows) {
          const s = threadOfSubtask.get(c) ?? new Set<number>();
          s.add(tid);
          threadOfSubtask.set(c, s);
        }
        assert.deepEqual([...threadOfSubtask.keys()].sort(), [0, 1, 2, 3]);
        for (const [c, s] of threadOfSubtask) assert.equal(s.size, 1, `subtask ${c} ran on threads ${[...s]}`);
        const tids = [...threadOfSubtask.values()].map((s) => [...s][0]!);
        assert.equal(new Set(tids).size, 4, `threads ${tids}`);
        assert.ok(!tids.includes(threadId), 'a subtask ran on the launcher thread');
        // producers too: subtask i of every vertex shares slot i
        for (const r of rows) if (r[0] === 'forward') assert.equal(r[6], r[4], 'forward producer and consumer share a slot');
      });
    } else {
      it('inline mode runs every subtask on the calling thread', () => {
        for (const r of rows) assert.equal(r[4], threadId);
      });
    }
  });
}

describe('inline mode: parallel subtasks of one operator', () => {
  it('each has its own runtime context (and so its own function instance)', async () => {
    class IndexProbe extends RichMapFunction<number, [number, number]> {
      map(v: number): [number, number] {
        return [this.getRuntimeContext().getIndexOfThisSubtask(), v];
      }
    }
    const env = StreamExecutionEnvironment.getExecutionEnvironment().setExecutionMode('inline').setParallelism(3);
    const rows = await env.fromSequence(0, 29).map(new IndexProbe()).name('index-probe').executeAndCollect();
    // fromSequence splits 0..29 into 0..9, 10..19, 20..29 over the 3 source subtasks, and the
    // map is chained to the source: subtask i sees exactly the i-th range.
    for (const [index, v] of rows) assert.equal(index, Math.floor(v / 10), `value ${v} reported subtask ${index}`);
    assert.deepEqual([...new Set(rows.map((r) => r[0]))].sort(), [0, 1, 2]);
  });
});
