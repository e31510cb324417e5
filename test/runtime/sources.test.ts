import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type InputStatus,
  type ReaderOutput,
  type Source,
  type SourceReader,
  type SourceSplit,
} from '../../src/index.ts';
import { ElementsSource, NumberSequenceSource } from '../../src/runtime/sources/builtin-sources.ts';

/** Drains a reader, optionally stopping after `limit` records; returns what it emitted. */
function drain<T>(reader: SourceReader<T, SourceSplit>, limit = Infinity): T[] {
  const out: T[] = [];
  const output: ReaderOutput<T> = { collect: (v) => void out.push(v) };
  let status: InputStatus = 'MORE_AVAILABLE';
  while (status === 'MORE_AVAILABLE' && out.length < limit) status = reader.pollNext(output);
  return out;
}

test('fromSequence splits cover the range exactly once for any parallelism', () => {
  for (const p of [1, 2, 3, 7]) {
    const src = new NumberSequenceSource(5, 104);
    const seen: number[] = [];
    for (const split of src.createSplits(p)) {
      const r = src.createReader();
      r.addSplits([split]);
      r.notifyNoMoreSplits();
      seen.push(...drain(r));
    }
    assert.deepEqual(seen.sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 5), `p=${p}`);
  }
});

test('a sequence reader rewinds to its snapshot: restored reader emits the rest, no loss, no duplicate', () => {
  const src = new NumberSequenceSource(1, 1000);
  const reader = src.createReader();
  reader.addSplits(src.createSplits(1));
  reader.notifyNoMoreSplits();
  const before = drain(reader, 300);
  const snapshot = reader.snapshotState(1);
  const afterOriginal = drain(reader);
  const restored = src.createReader();
  restored.addSplits(snapshot);
  restored.notifyNoMoreSplits();
  const replayed = drain(restored);
  assert.deepEqual(replayed, afterOriginal, 'the restored reader replays exactly what followed the snapshot');
  assert.deepEqual([...before, ...replayed], Array.from({ length: 1000 }, (_, i) => i + 1));
});

test('an elements reader rewinds to its snapshot', () => {
  const src = new ElementsSource(['a', 'b', 'c', 'd', 'e']);
  const r = src.createReader();
  r.addSplits(src.createSplits());
  r.notifyNoMoreSplits();
  const first = drain(r, 2);
  const snap = r.snapshotState(1);
  const restored = src.createReader();
  restored.addSplits(snap);
  restored.notifyNoMoreSplits();
  assert.deepEqual([...first, ...drain(restored)], ['a', 'b', 'c', 'd', 'e']);
});

interface LineSplit extends SourceSplit {
  readonly lines: readonly string[];
  readonly offset: number;
}

/** A user-written split source: each split is a "file" of lines with an offset. */
class LinesSource implements Source<string, LineSplit> {
  constructor(readonly files: readonly (readonly string[])[]) {}
  getBoundedness(): 'BOUNDED' {
    return 'BOUNDED';
  }
  createSplits(): LineSplit[] {
    return this.files.map((lines, i) => ({ splitId: `file-${i}`, lines, offset: 0 }));
  }
  createReader(): SourceReader<string, LineSplit> {
    const splits: { splitId: string; lines: readonly string[]; offset: number }[] = [];
    let noMore = false;
    return {
      addSplits: (s) => void splits.push(...s.map((x) => ({ ...x }))),
      notifyNoMoreSplits: () => {
        noMore = true;
      },
      pollNext: (out) => {
        const s = splits[0];
        if (!s) return noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
        out.collect(s.lines[s.offset]!, s.offset * 1000);
        if (++s.offset >= s.lines.length) splits.shift();
        return splits.length > 0 ? 'MORE_AVAILABLE' : noMore ? 'END_OF_INPUT' : 'NOTHING_AVAILABLE';
      },
      isAvailable: () => new Promise(() => {}),
      snapshotState: () => splits.map((s) => ({ ...s })),
    };
  }
}

test('fromSource runs a user Source in parallel with its watermark strategy; every record arrives once', async () => {
  const files = [
    ['a1', 'a2', 'a3'],
    ['b1', 'b2'],
    ['c1', 'c2', 'c3', 'c4'],
  ];
  const env = StreamExecutionEnvironment.getExecutionEnvironment({ 'weir.execution.mode': 'inline', 'parallelism.default': 2 });
  const wm = WatermarkStrategy.forMonotonousTimestamps<string>();
  const out = await env
    .fromSource(new LinesSource(files), wm, 'lines')
    .process({
      processElement(v: string, ctx: { timestamp(): number | undefined }, o: { collect(x: string): void }) {
        o.collect(`${v}@${ctx.timestamp()}`);
      },
    } as never)
    .executeAndCollect();
  assert.deepEqual(
    (out as string[]).sort(),
    ['a1@0', 'a2@1000', 'a3@2000', 'b1@0', 'b2@1000', 'c1@0', 'c2@1000', 'c3@2000', 'c4@3000'],
  );
});
