/**
 * Channel state of unaligned checkpoints, without a running job: what the recorder keeps of each
 * input channel, how it is written and read back, and which new subtask replays which stored
 * channel after a restore, for every kind of exchange.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InputChannelInfo, InputChannelStateHandle, StateFileHandle } from '../../src/checkpoint/checkpoint-types.ts';
import { decodeMetadata, encodeMetadata } from '../../src/checkpoint/filesystem/metadata-codec.ts';
import { asCheckpointId } from '../../src/core/ids.ts';
import { assignToKeyGroup, keyGroupRangeForOperator } from '../../src/core/key-group.ts';
import type { PartitionerSpec } from '../../src/api/transformation.ts';
import type { JobVertex, StreamEdge, StreamNode } from '../../src/graph/job-graph.ts';
import type { ChannelItem } from '../../src/runtime/channel/channel.ts';
import {
  assignChannelState,
  ChannelStateRestoreError,
  channelEdgeKeys,
  loadChannelState,
  writeChannelState,
  type ChannelIdentity,
  type RestoredChannel,
} from '../../src/runtime/checkpoint/channel-state.ts';
import { ChannelStateRecorder, type ChannelStateEntry, type RecordedChannel } from '../../src/runtime/checkpoint/channel-state-recorder.ts';
import { encodeValue } from '../../src/core/record-codec.ts';

// ---- hand-built graph pieces --------------------------------------------------------------------

const node = (operatorId: string, parallelism: number): StreamNode => ({ operatorId, parallelism, name: operatorId }) as unknown as StreamNode;

interface InputSpec {
  readonly from: string;
  readonly producers: number;
  readonly partitioner: PartitionerSpec;
  readonly input?: 0 | 1;
}

/** A vertex "consumer" (operator "c") at `parallelism` whose head has the given network inputs. */
function vertex(parallelism: number, inputs: readonly InputSpec[], maxParallelism = 128): JobVertex {
  const target = node('c', parallelism);
  const edges = inputs.map(
    (s, index): StreamEdge => ({ index, source: node(s.from, s.producers), target, targetInput: s.input ?? 0, partitioner: s.partitioner, sideOutputTag: undefined }),
  );
  return { index: 1, name: 'consumer', parallelism, maxParallelism, nodes: [target], inputs: edges, outputs: [] };
}

const HASH: PartitionerSpec = { kind: 'hash', keySelector: (x: unknown) => x };
const file = (path: string): StateFileHandle => ({ path, size: 1, checksum: '0'.repeat(64) });
const info = (edge: string, partitioner: string, producer: number, producers: number, records = 1): InputChannelInfo => ({
  edge,
  partitioner,
  producer,
  producers,
  records,
  bytes: 10,
});

/** Old subtask states: subtask k stored one channel per producer of `edge`. */
function oldStates(oldP: number, edge: string, partitioner: string, producers: number): { channelState: InputChannelStateHandle }[] {
  return Array.from({ length: oldP }, (_, k) => ({
    channelState: { file: file(`ch-${k}`), channels: Array.from({ length: producers }, (_, p) => info(edge, partitioner, p, producers)) },
  }));
}

/** Which new subtask replays which (old subtask file, producer). */
function assignment(v: JobVertex, old: readonly ({ channelState?: InputChannelStateHandle } | undefined)[]): string[][] {
  return Array.from({ length: v.parallelism }, (_, j) => assignChannelState(v, j, old, 'checkpoint /cp/chk-1').map((r) => `${r.file.path}/${r.producer}`));
}

const edgeOf = (v: JobVertex, i = 0): string => channelEdgeKeys(v).get(i)!;

// ---- restore assignment -------------------------------------------------------------------------

describe('assignChannelState', () => {
  it('names channels by edge: source, target, input and a count of equal edges', () => {
    const v = vertex(2, [
      { from: 'a', producers: 2, partitioner: HASH },
      { from: 'a', producers: 2, partitioner: HASH },
      { from: 'b', producers: 1, partitioner: HASH, input: 1 },
    ]);
    assert.deepEqual([...channelEdgeKeys(v).values()], ['a->c/0#0', 'a->c/0#1', 'b->c/1#0']);
  });

  it('unchanged parallelisms: each subtask replays exactly its own channels, as the same channels', () => {
    const v = vertex(3, [{ from: 'a', producers: 2, partitioner: { kind: 'rebalance' } }]);
    const old = oldStates(3, edgeOf(v), 'rebalance', 2);
    assert.deepEqual(assignment(v, old), [
      ['ch-0/0', 'ch-0/1'],
      ['ch-1/0', 'ch-1/1'],
      ['ch-2/0', 'ch-2/1'],
    ]);
    for (let j = 0; j < 3; j++) {
      for (const r of assignChannelState(v, j, old, 'x')) {
        assert.equal(r.sameChannel, true);
        assert.equal(r.keyGroups, undefined);
      }
    }
  });

  it('a changed producer parallelism alone is a rescale: channels are no longer the same', () => {
    const v = vertex(2, [{ from: 'a', producers: 3, partitioner: { kind: 'rebalance' } }]);
    const old = oldStates(2, edgeOf(v), 'rebalance', 2);
    const all = [0, 1].flatMap((j) => assignChannelState(v, j, old, 'x'));
    assert.equal(all.length, 4, 'every stored channel is replayed once');
    assert.ok(all.every((r) => !r.sameChannel));
  });

  it('hash: every new subtask reads every stored channel, keeping its own key-group range', () => {
    for (const newP of [1, 3, 5]) {
      const v = vertex(newP, [{ from: 'a', producers: 2, partitioner: HASH }], 128);
      const old = oldStates(2, edgeOf(v), 'hash', 2);
      for (let j = 0; j < newP; j++) {
        const got = assignChannelState(v, j, old, 'x');
        assert.deepEqual(got.map((r) => `${r.file.path}/${r.producer}`), ['ch-0/0', 'ch-0/1', 'ch-1/0', 'ch-1/1']);
        const range = keyGroupRangeForOperator(128, newP, j);
        for (const r of got) assert.deepEqual(r.keyGroups, { start: range.start, end: range.end, maxParallelism: 128 });
      }
    }
  });

  for (const kind of ['forward', 'rescale', 'global'] as const) {
    it(`${kind}: old subtask k goes to new subtask k mod p'`, () => {
      const down = vertex(2, [{ from: 'a', producers: 2, partitioner: { kind } }]);
      assert.deepEqual(assignment(down, oldStates(5, edgeOf(down), kind, 1)), [
        ['ch-0/0', 'ch-2/0', 'ch-4/0'],
        ['ch-1/0', 'ch-3/0'],
      ]);
      const up = vertex(4, [{ from: 'a', producers: 4, partitioner: { kind } }]);
      assert.deepEqual(assignment(up, oldStates(2, edgeOf(up), kind, 1)), [['ch-0/0'], ['ch-1/0'], [], []]);
    });
  }

  for (const kind of ['rebalance', 'shuffle'] as const) {
    it(`${kind}: stored channels are dealt round robin over the new subtasks, counted over the edge`, () => {
      const v = vertex(3, [{ from: 'a', producers: 2, partitioner: { kind } }]);
      // 2 old subtasks × 2 producers = 4 stored channels, in order ch-0/0, ch-0/1, ch-1/0, ch-1/1.
      assert.deepEqual(assignment(v, oldStates(2, edgeOf(v), kind, 2)), [['ch-0/0', 'ch-1/1'], ['ch-0/1'], ['ch-1/0']]);
    });
  }

  it('a subtask without channel state (or without state) adds nothing, and the dealing skips it', () => {
    const v = vertex(2, [{ from: 'a', producers: 1, partitioner: { kind: 'rebalance' } }]);
    const edge = edgeOf(v);
    const old = [undefined, {}, { channelState: { file: file('ch-2'), channels: [info(edge, 'rebalance', 0, 1)] } }, { channelState: { file: file('ch-3'), channels: [info(edge, 'rebalance', 0, 1)] } }];
    assert.deepEqual(assignment(v, old), [['ch-2/0'], ['ch-3/0']]);
  });

  it('broadcast scale-up: new subtask j replays old subtask j copy; the new ones replay nothing', () => {
    const v = vertex(4, [{ from: 'a', producers: 1, partitioner: { kind: 'broadcast' } }]);
    assert.deepEqual(assignment(v, oldStates(2, edgeOf(v), 'broadcast', 1)), [['ch-0/0'], ['ch-1/0'], [], []]);
  });

  it('broadcast scale-down while a dropped subtask holds data is refused, naming the operator, subtask and parallelism', () => {
    const v = vertex(1, [{ from: 'a', producers: 1, partitioner: { kind: 'broadcast' } }]);
    const edge = edgeOf(v);
    const old = [
      { channelState: { file: file('ch-0'), channels: [info(edge, 'broadcast', 0, 1, 7)] } },
      { channelState: { file: file('ch-1'), channels: [info(edge, 'broadcast', 0, 1, 5)] } },
    ];
    assert.throws(
      () => assignChannelState(v, 0, old, 'checkpoint /cp/chk-4'),
      (e: unknown) => {
        assert.ok(e instanceof ChannelStateRestoreError);
        assert.match(
          e.message,
          /^checkpoint \/cp\/chk-4 holds 5 in-flight broadcast records for subtask 1 of "consumer", which does not exist at parallelism 1: .*restore at parallelism 2 or more/,
        );
        return true;
      },
    );
    // With nothing stored by the dropped subtask, the scale-down is fine.
    assert.deepEqual(assignment(v, [old[0]!, {}]), [['ch-0/0']]);
  });

  it('in-flight data of an input the job no longer has is refused, naming the input and the operator', () => {
    const v = vertex(2, [{ from: 'a', producers: 2, partitioner: HASH }]);
    const old = [{ channelState: { file: file('ch-0'), channels: [info('gone->c/0#0', 'hash', 0, 2, 3)] } }];
    assert.throws(
      () => assignChannelState(v, 0, old, 'checkpoint /cp/chk-2'),
      (e: unknown) =>
        e instanceof ChannelStateRestoreError &&
        /^checkpoint \/cp\/chk-2 holds 3 in-flight records of input gone->c\/0#0 into "consumer", which this job no longer has/.test(e.message),
    );
  });

  it('in-flight data sent with another partitioner than the job now uses is refused, naming both', () => {
    const v = vertex(2, [{ from: 'a', producers: 2, partitioner: { kind: 'rebalance' } }]);
    const old = oldStates(2, edgeOf(v), 'hash', 2);
    assert.throws(
      () => assignChannelState(v, 0, old, 'savepoint /sp'),
      (e: unknown) =>
        e instanceof ChannelStateRestoreError &&
        e.message.includes(`input ${edgeOf(v)} into "consumer" sent with partitioner hash, but the job now uses rebalance there`) &&
        e.message.includes('restore from a savepoint'),
    );
  });
});

// ---- write and read back ------------------------------------------------------------------------

/** An in-memory state file sink and source. */
function memoryFiles(): { write: (name: string, payload: Uint8Array) => Promise<StateFileHandle>; read: (h: StateFileHandle) => Promise<Uint8Array>; count: () => number } {
  const files = new Map<string, Uint8Array>();
  return {
    write: async (name, payload) => {
      files.set(name, payload);
      return { path: name, size: payload.byteLength, checksum: '0'.repeat(64) };
    },
    read: async (h) => {
      const bytes = files.get(h.path);
      if (bytes === undefined) throw new Error(`no file ${h.path}`);
      return bytes;
    },
    count: () => files.size,
  };
}

const records = (values: unknown[], timestamps: number[] | null = null): ChannelItem => ({
  kind: 'records',
  batch: { values, timestamps: timestamps === null ? null : Float64Array.from(timestamps), count: values.length },
});

/** What a recorder keeps of one channel that delivered `items` (the file format: batches encoded as `{ v, t }`). */
function recordedChannel(items: readonly ChannelItem[]): RecordedChannel {
  const entries: ChannelStateEntry[] = [];
  let count = 0;
  let bytes = 0;
  for (const item of items) {
    if (item.kind === 'records') {
      const r = encodeValue({ v: item.batch.values.slice(0, item.batch.count), t: item.batch.timestamps });
      entries.push({ r });
      count += item.batch.count;
      bytes += r.byteLength;
    } else if (item.kind === 'watermark') entries.push({ w: item.timestamp });
    else if (item.kind === 'watermark-status') entries.push({ i: item.idle });
  }
  return { entries, records: count, bytes };
}

async function recordAll(items: readonly (readonly ChannelItem[])[]): Promise<RecordedChannel[]> {
  return items.map(recordedChannel);
}

/** Plain view of replayed items: [input, channel, what]. */
function plain(items: Awaited<ReturnType<typeof loadChannelState>>): unknown[] {
  return items.map(({ input, channel, item }) => {
    if (item.kind === 'records') return [input, channel, 'r', item.batch.values.slice(0, item.batch.count), item.batch.timestamps === null ? null : [...item.batch.timestamps]];
    if (item.kind === 'watermark') return [input, channel, 'w', item.timestamp];
    if (item.kind === 'watermark-status') return [input, channel, 'i', item.idle];
    return [input, channel, item.kind];
  });
}

describe('writeChannelState and loadChannelState', () => {
  const twoInputs = (p: number, producers: number): JobVertex =>
    vertex(p, [
      { from: 'a', producers, partitioner: { kind: 'forward' } },
      { from: 'b', producers, partitioner: { kind: 'rebalance' }, input: 1 },
    ]);

  it('round trip at unchanged parallelism: records with timestamps, watermarks and statuses, on their own channels', async () => {
    const v = twoInputs(1, 1);
    const recorded = await recordAll([
      [records([1, 2], [10, 11]), { kind: 'watermark', timestamp: 11 }, records([{ k: 'x' }, 'three'])],
      [],
      [{ kind: 'watermark-status', idle: true }, records([4], [40])],
    ]);
    const identities: ChannelIdentity[] = [
      { edge: edgeOf(v, 0), partitioner: 'forward', producer: 0, producers: 1 },
      { edge: 'unused', partitioner: 'forward', producer: 0, producers: 1 },
      { edge: edgeOf(v, 1), partitioner: 'rebalance', producer: 0, producers: 1 },
    ];
    const files = memoryFiles();
    const written = await writeChannelState(recorded, identities, files.write, 'ch-c-0.cstate');
    assert.ok(written !== undefined);
    assert.equal(written.handle.file.path, 'ch-c-0.cstate');
    assert.equal(written.bytes, written.handle.file.size);
    // The empty channel is not listed.
    assert.deepEqual(
      written.handle.channels.map((c) => [c.edge, c.partitioner, c.producer, c.producers, c.records]),
      [
        [edgeOf(v, 0), 'forward', 0, 1, 4],
        [edgeOf(v, 1), 'rebalance', 0, 1, 1],
      ],
    );
    const restored = assignChannelState(v, 0, [{ channelState: written.handle }], 'x');
    // The live inputs in another order than when they were stored: channels are found by edge and producer.
    const inputs = [
      { edge: 1, producer: 0, input: 1 as const },
      { edge: 0, producer: 0, input: 0 as const },
    ];
    const items = await loadChannelState(restored, v, inputs, files.read);
    assert.deepEqual(plain(items), [
      [0, 1, 'r', [1, 2], [10, 11]],
      [0, 1, 'w', 11],
      [0, 1, 'r', [{ k: 'x' }, 'three'], null],
      [1, 0, 'i', true],
      [1, 0, 'r', [4], [40]],
    ]);
  });

  it('nothing recorded: nothing is written', async () => {
    const files = memoryFiles();
    const recorded = await recordAll([[], []]);
    assert.equal(await writeChannelState(recorded, [], files.write, 'x.cstate'), undefined);
    assert.equal(files.count(), 0);
  });

  it('after a rescale, records are replayed without a live channel and watermarks are dropped', async () => {
    const old = twoInputs(2, 2);
    const files = memoryFiles();
    const states = [];
    for (let k = 0; k < 2; k++) {
      const recorded = await recordAll([[records([k * 10 + 1], [5]), { kind: 'watermark', timestamp: 5 }, records([k * 10 + 2])]]);
      const w = await writeChannelState(recorded, [{ edge: edgeOf(old, 0), partitioner: 'forward', producer: k, producers: 2 }], files.write, `ch-${k}`);
      states.push({ channelState: w!.handle });
    }
    const v = twoInputs(1, 1);
    const items = await loadChannelState(assignChannelState(v, 0, states, 'x'), v, [{ edge: 0, producer: 0, input: 0 }], files.read);
    assert.deepEqual(plain(items), [
      [0, undefined, 'r', [1], [5]],
      [0, undefined, 'r', [2], null],
      [0, undefined, 'r', [11], [5]],
      [0, undefined, 'r', [12], null],
    ]);
  });

  it('keyed edge at a changed parallelism: each new subtask keeps exactly the records of its key groups', async () => {
    const MAX = 16;
    const oldV = vertex(2, [{ from: 'a', producers: 2, partitioner: HASH }], MAX);
    const files = memoryFiles();
    const all: number[] = [];
    const states = [];
    for (let k = 0; k < 2; k++) {
      const perProducer = [0, 1].map((p) => Array.from({ length: 40 }, (_, i) => k * 1000 + p * 100 + i));
      for (const xs of perProducer) all.push(...xs);
      const recorded = await recordAll(perProducer.map((xs) => [records(xs.slice(0, 25), xs.slice(0, 25)), records(xs.slice(25))]));
      const ids = [0, 1].map((p): ChannelIdentity => ({ edge: edgeOf(oldV, 0), partitioner: 'hash', producer: p, producers: 2 }));
      states.push({ channelState: (await writeChannelState(recorded, ids, files.write, `ch-${k}`))!.handle });
    }
    const seen: number[] = [];
    for (const newP of [3]) {
      const v = vertex(newP, [{ from: 'a', producers: 3, partitioner: HASH }], MAX);
      for (let j = 0; j < newP; j++) {
        const range = keyGroupRangeForOperator(MAX, newP, j);
        const items = await loadChannelState(assignChannelState(v, j, states, 'x'), v, [], files.read);
        const got: number[] = [];
        for (const { item, channel } of items) {
          assert.equal(channel, undefined);
          assert.equal(item.kind, 'records');
          if (item.kind !== 'records') continue;
          const vals = item.batch.values.slice(0, item.batch.count) as number[];
          // Timestamps stay with their records through the filter.
          if (item.batch.timestamps !== null) assert.deepEqual([...item.batch.timestamps], vals);
          got.push(...vals);
        }
        const expected = all.filter((x) => {
          const kg = assignToKeyGroup(x, MAX);
          return kg >= range.start && kg <= range.end;
        });
        assert.deepEqual(got, expected, `new subtask ${j}`);
        seen.push(...got);
      }
    }
    assert.deepEqual(seen.sort((a, b) => a - b), [...all].sort((a, b) => a - b), 'every record once over all new subtasks');
  });

  it("the channel-state handle survives _metadata's encoding, as a restore reads it", () => {
    const handle: InputChannelStateHandle = { file: file('chk-1/ch-c-0.cstate'), channels: [info('a->c/0#0', 'hash', 1, 2, 12)] };
    const metadata = {
      version: 1 as const,
      jobId: 'f'.repeat(32),
      checkpointId: asCheckpointId(1),
      timestamp: 1,
      kind: 'checkpoint' as const,
      operators: [{ operatorId: 'c', uid: 'count', name: 'count', parallelism: 1, maxParallelism: 128, stateNames: [], subtasks: [{ operatorId: 'c', files: [handle.file], channelState: handle }] }],
    };
    const envelope = JSON.parse(encodeMetadata(metadata)) as { metadata: unknown };
    assert.deepEqual(decodeMetadata(envelope.metadata).operators[0]!.subtasks[0]!.channelState, handle);
  });

  it('a channel index the file does not have, or a file that is not channel state, is reported as corrupt', async () => {
    const v = vertex(1, [{ from: 'a', producers: 1, partitioner: { kind: 'forward' } }]);
    const files = memoryFiles();
    const w = await writeChannelState(await recordAll([[records([1])]]), [{ edge: edgeOf(v), partitioner: 'forward', producer: 0, producers: 1 }], files.write, 'f');
    const wrong: RestoredChannel = { file: w!.handle.file, index: 3, edge: edgeOf(v), producer: 0, sameChannel: true };
    await assert.rejects(loadChannelState([wrong], v, [], files.read), /channel state file f has no channel 3: the checkpoint is corrupt/);
    await files.write('g', new TextEncoder().encode('not it'));
    await assert.rejects(loadChannelState([{ ...wrong, file: file('g'), index: 0 }], v, [], files.read), /channel state file g (cannot be decoded|is not channel state)/);
  });
});

// ---- the recorder -------------------------------------------------------------------------------

const recorder = (id: number, settled: boolean[]): ChannelStateRecorder => new ChannelStateRecorder(asCheckpointId(id), settled);

describe('ChannelStateRecorder', () => {
  const values = (r: RecordedChannel): number => r.records;

  it('stores what a channel hands over until it is done; settled channels store nothing', async () => {
    const rec = recorder(3, [false, true]);
    assert.equal(rec.complete, false);
    rec.store(0, records([1, 2, 3]));
    rec.store(0, { kind: 'watermark', timestamp: 9 });
    rec.store(1, records([100]));
    rec.channelDone(0);
    rec.store(0, records([4]));
    const done = await rec.done;
    assert.equal(rec.complete, true);
    assert.deepEqual(done.map(values), [3, 0]);
    assert.equal(done[0]!.entries.length, 2, 'one batch and one watermark');
    assert.ok('w' in done[0]!.entries[1]!);
    assert.equal(done[1]!.entries.length, 0);
    assert.equal(rec.bytes, done[0]!.bytes);
    assert.ok(rec.bytes > 0);
  });

  it('items that are not data (barriers of other checkpoints, end of data or partition) are not stored', async () => {
    const rec = recorder(3, [false]);
    rec.store(0, records([1]));
    rec.store(0, { kind: 'checkpoint-barrier', checkpointId: asCheckpointId(2), timestamp: 0, options: {} } as unknown as ChannelItem);
    rec.store(0, { kind: 'end-of-data' });
    rec.store(0, { kind: 'watermark-status', idle: false });
    rec.store(0, { kind: 'end-of-partition' });
    rec.channelDone(0);
    const [c] = await rec.done;
    assert.equal(c!.records, 1);
    assert.deepEqual(c!.entries.map((e) => Object.keys(e)[0]), ['r', 'i']);
  });

  it('a channel done twice, or items after it is done, change nothing', async () => {
    const rec = recorder(1, [false, false]);
    rec.store(0, records([1]));
    rec.channelDone(0);
    rec.channelDone(0);
    rec.store(0, records([2]));
    rec.channelEnded(1);
    const done = await rec.done;
    assert.deepEqual(done.map(values), [1, 0]);
  });

  it('a channel that ends is done, with what it delivered before', async () => {
    const rec = recorder(1, [false]);
    rec.store(0, records([7, 8]));
    rec.channelEnded(0);
    assert.deepEqual((await rec.done).map(values), [2]);
  });

  it('the remainder of the batch being processed is stored from `from` to `count`, timestamps included', async () => {
    const rec = recorder(1, [false, false]);
    rec.recordRemainder(0, [1, 2, 3, 4, 5], Float64Array.from([1, 2, 3, 4, 5]), 2, 4);
    rec.recordRemainder(1, [1, 2], null, 2, 2);
    rec.channelEnded(0);
    rec.channelEnded(1);
    const [a, b] = await rec.done;
    assert.equal(a!.records, 2);
    assert.equal(b!.records, 0, 'nothing left of a batch processed to its end');
    const files = memoryFiles();
    const v = vertex(1, [{ from: 'a', producers: 1, partitioner: { kind: 'forward' } }]);
    const w = await writeChannelState([a!], [{ edge: edgeOf(v), partitioner: 'forward', producer: 0, producers: 1 }], files.write, 'r');
    const items = await loadChannelState(assignChannelState(v, 0, [{ channelState: w!.handle }], 'x'), v, [{ edge: 0, producer: 0, input: 0 }], files.read);
    assert.deepEqual(plain(items), [[0, 0, 'r', [3, 4], [3, 4]]]);
  });

  it('a batch whose count is below its array length stores only the counted records', async () => {
    const rec = recorder(1, [false]);
    rec.store(0, { kind: 'records', batch: { values: [1, 2, 3, 4], timestamps: null, count: 2 } });
    rec.channelEnded(0);
    assert.equal((await rec.done)[0]!.records, 2);
  });

  it('cancel: rejects `done` with the reason and releases what was kept; later items are ignored', async () => {
    const rec = recorder(1, [false]);
    rec.store(0, records([1, 2]));
    rec.cancel(new Error('checkpoint 1 aborted'));
    await assert.rejects(rec.done, /checkpoint 1 aborted/);
    assert.equal(rec.complete, true);
    rec.store(0, records([3]));
    // Cancelling a finished recording changes nothing.
    const finished = recorder(2, [true]);
    finished.cancel(new Error('late'));
    assert.deepEqual((await finished.done).map(values), [0]);
  });
});
