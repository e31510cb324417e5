/**
 * FileSource driven directly, as a task drives a reader: read positions (byte offset and line of
 * the next record), byte ranges aligned to line starts, malformed records (fail naming file and
 * line, skip, handler, tagged records), missing paths, hidden files, CSV options.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { InputStatus, Source, SourceReader } from 'weir';
import { runJob } from 'weir/testing';
import {
  CsvReaderFormat,
  FileSource,
  JsonLinesInputFormat,
  MalformedRecordError,
  TextLineInputFormat,
  withMalformedRecords,
  type FileSourceSplit,
  type FileSplit,
  type RecordOrMalformed,
} from 'weir/connectors/file';
import { ownerOf } from '../../../src/connectors/file/file-source.ts';

const scratch = mkdtempSync(join(tmpdir(), 'weir-file-source-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let fileNo = 0;
/** A fresh directory holding the given files. */
function dirWith(files: Record<string, string>): string {
  const dir = join(scratch, `d${fileNo++}`);
  mkdirSync(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function reader<T>(source: Source<T, FileSplit>, splits: readonly FileSplit[] = source.createSplits(1)): SourceReader<T, FileSplit> {
  const r = source.createReader({ getIndexOfSubtask: () => 0, getNumberOfParallelSubtasks: () => 1 });
  r.addSplits(splits);
  r.notifyNoMoreSplits();
  return r;
}

/** Polls until END_OF_INPUT (bounded sources never wait). */
function readAll<T>(r: SourceReader<T, FileSplit>): T[] {
  const out: T[] = [];
  let status: InputStatus;
  do status = r.pollNext({ collect: (v) => void out.push(v) });
  while (status === 'MORE_AVAILABLE');
  assert.equal(status, 'END_OF_INPUT');
  return out;
}

describe('FileSource', () => {
  it('reads the visible files of a directory tree in name order, passing over hidden and in-progress ones', () => {
    const dir = dirWith({ 'b.txt': 'b1\nb2\n', 'a.txt': 'a1\n', 'sub/c.txt': 'c1', '.hidden': 'x\n', '_tmp': 'x\n', '.dir/d.txt': 'x\n' });
    const r = reader(FileSource.forRecordStreamFormat(new TextLineInputFormat(), dir).build());
    assert.deepEqual(readAll(r), ['a1', 'b1', 'b2', 'c1']);
  });

  it('a split records the byte offset and line number of the next record; a reader restored from it goes on from there', () => {
    const dir = dirWith({ 'f.txt': 'one\r\ntwo\n\nfour\nfive' });
    const source = FileSource.forRecordStreamFormat(new TextLineInputFormat(), dir).build();
    const first = reader(source);
    const got: string[] = [];
    const [split] = source.createSplits(1) as FileSourceSplit[];
    assert.deepEqual({ offset: split!.offset, line: split!.line, end: split!.end }, { offset: 0, line: 1, end: null });
    first.pollNext({ collect: (v) => void got.push(v) });
    assert.deepEqual(got, ['one', 'two', '', 'four', 'five']);
    first.close?.();

    // A position mid-file, as a snapshot records it: line 3 starts at byte 9 ('one\r\n' + 'two\n').
    const resumed = reader(source, [{ ...split!, offset: 9, line: 3 }]);
    assert.deepEqual(readAll(resumed), ['', 'four', 'five']);
  });

  it('a snapshot after some records holds the exact position of the next one', () => {
    const lines = Array.from({ length: 200 }, (_, n) => `r${n}`);
    const dir = dirWith({ 'f.txt': lines.join('\n') + '\n' });
    const source = FileSource.forRecordStreamFormat(new TextLineInputFormat(), dir).build();
    const r = reader(source);
    const got: string[] = [];
    r.pollNext({ collect: (v) => void got.push(v) });
    const [snap] = r.snapshotState(1) as FileSourceSplit[];
    const bytes = Buffer.byteLength(got.map((l) => `${l}\n`).join(''));
    assert.deepEqual({ offset: snap!.offset, line: snap!.line }, { offset: bytes, line: got.length + 1 });
    assert.deepEqual(readAll(reader(source, [snap!])), lines.slice(got.length));
  });

  it('byte ranges are aligned to line starts: every line is read once, by the range it starts in', () => {
    const lines = Array.from({ length: 500 }, (_, n) => `${n}:${'z'.repeat(n % 37)}`);
    const dir = dirWith({ 'f.txt': lines.join('\n') + '\n' });
    for (const size of [13, 100, 4096]) {
      const source = FileSource.forRecordStreamFormat(new TextLineInputFormat(), dir).setSplitSize(size).build();
      const splits = source.createSplits(3);
      assert.ok(splits.length > 1, `split size ${size}: several ranges`);
      const got = splits.flatMap((s) => readAll(reader(source, [s])));
      assert.deepEqual(got, lines, `split size ${size}`);
    }
  });

  it('a malformed JSON line fails the read with an error naming the file and the line', () => {
    const dir = dirWith({ 'events.jsonl': '{"a":1}\n\n{"a":2}\n{"a": oops}\n{"a":4}\n' });
    const r = reader(FileSource.forRecordStreamFormat(new JsonLinesInputFormat(), dir).build());
    assert.throws(
      () => readAll(r),
      (e: unknown) => {
        assert.ok(e instanceof MalformedRecordError);
        assert.equal(e.position.path, join(dir, 'events.jsonl'));
        assert.equal(e.position.line, 4);
        assert.match(e.message, new RegExp(`malformed JSON record in ${join(dir, 'events.jsonl').replaceAll('/', '\\/')} at line 4: `));
        return true;
      },
    );
  });

  it('a malformed CSV record names the file and the line it starts on', () => {
    const dir = dirWith({ 'rows.csv': 'id,name\n1,a\n2,"multi\nline"\n3,b,extra\n' });
    const r = reader(FileSource.forRecordStreamFormat(new CsvReaderFormat({ header: true }), dir).build());
    assert.throws(() => readAll(r), /malformed CSV record in .*rows\.csv at line 5: expected 2 fields, found 3/);
  });

  it("onMalformed 'skip' passes malformed records over; a handler sees each with its position", () => {
    const dir = dirWith({ 'a.jsonl': '1\nnot json\n2\n', 'b.jsonl': '{\n3\n' });
    const skipped = reader(FileSource.forRecordStreamFormat(new JsonLinesInputFormat<number>(), dir).onMalformed('skip').build());
    assert.deepEqual(readAll(skipped), [1, 2, 3]);
    const seen: string[] = [];
    const handled = reader(
      FileSource.forRecordStreamFormat(new JsonLinesInputFormat<number>(), dir)
        .onMalformed((e) => seen.push(`${e.position.path.split('/').pop()}:${e.position.line}:${e.text}`))
        .build(),
    );
    assert.deepEqual(readAll(handled), [1, 2, 3]);
    assert.deepEqual(seen, ['a.jsonl:2:not json', 'b.jsonl:1:{']);
  });

  it('withMalformedRecords turns malformed records into tagged records, for a side output downstream', () => {
    const dir = dirWith({ 'a.jsonl': '1\nnot json\n2\n' });
    const r = reader(FileSource.forRecordStreamFormat(withMalformedRecords(new JsonLinesInputFormat<number>()), dir).build());
    const got = readAll(r) as RecordOrMalformed<number>[];
    assert.deepEqual(
      got.map((g) => (g.ok ? g.value : `${g.malformed.line}:${g.malformed.text}`)),
      [1, '2:not json', 2],
    );
  });

  it('a missing path is an error naming it, from createSplits and from a job', async () => {
    const missing = join(scratch, 'no-such-dir');
    assert.throws(() => FileSource.forRecordStreamFormat(new TextLineInputFormat(), missing).build().createSplits(1), new RegExp(`path ${missing} does not exist`));
    assert.throws(() => FileSource.forRecordStreamFormat(new TextLineInputFormat(), missing).monitorContinuously(10).build().createSplits(1), /does not exist/);
    const job = fileURLToPath(new URL('./fixtures/missing-path-job.ts', import.meta.url));
    await assert.rejects(runJob(job, { args: [missing], mode: 'inline', parallelism: 1 }), (e: unknown) => {
      const text = `${(e as Error).message} ${String((e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : '')}`;
      assert.match(text, new RegExp(`${missing} does not exist`));
      return true;
    });
  });

  it('CSV: a header gives objects (or arrays when asked), columns name fields of headerless files, the delimiter and quotes apply', () => {
    const dir = dirWith({ 'h.csv': 'id;note\n1;"a;b"\n2;"say ""hi"""\n\n' });
    const objects = readAll(reader(FileSource.forRecordStreamFormat(new CsvReaderFormat({ header: true, delimiter: ';' }), dir).build()));
    assert.deepEqual(objects, [
      { id: '1', note: 'a;b' },
      { id: '2', note: 'say "hi"' },
    ]);
    const arrays = readAll(reader(FileSource.forRecordStreamFormat(new CsvReaderFormat({ header: true, delimiter: ';', records: 'arrays' }), dir).build()));
    assert.deepEqual(arrays, [
      ['1', 'a;b'],
      ['2', 'say "hi"'],
    ]);
    const plain = dirWith({ 'p.csv': '1,x\n2,y\n' });
    const named = readAll(reader(FileSource.forRecordStreamFormat(new CsvReaderFormat({ columns: ['n', 'v'] }), plain).build()));
    assert.deepEqual(named, [
      { n: '1', v: 'x' },
      { n: '2', v: 'y' },
    ]);
    // A CSV file is never split into byte ranges: a quoted field may hold a line break.
    assert.equal(FileSource.forRecordStreamFormat(new CsvReaderFormat(), plain).setSplitSize(1).build().createSplits(2).length, 1);
  });

  it('a CSV file resumed mid-file reads its header again', () => {
    const dir = dirWith({ 'h.csv': 'a,b\n1,2\n3,4\n' });
    const source = FileSource.forRecordStreamFormat(new CsvReaderFormat({ header: true }), dir).build();
    const [split] = source.createSplits(1) as FileSourceSplit[];
    assert.deepEqual(readAll(reader(source, [{ ...split!, offset: 8, line: 3 }])), [{ a: '3', b: '4' }]);
  });

  it('monitoring: a reader takes the files whose path hashes to its share, remembers the ones read and the position in the current one, and a restore reads neither twice', async () => {
    const dir = dirWith({});
    const source = FileSource.forRecordStreamFormat(new TextLineInputFormat(), dir).monitorContinuously(5).build();
    assert.deepEqual(
      source.createSplits(2).map((s) => s.splitId),
      ['monitor-0-of-2', 'monitor-1-of-2'],
      'one monitoring split per subtask, whatever the directory holds',
    );
    const [split] = source.createSplits(1);
    const out: string[] = [];
    const output = { collect: (v: string) => void out.push(v) };
    /** Polls until `n` records came (waiting as a task waits), or fails after a second. */
    const pollUntil = async (r: SourceReader<string, FileSplit>, n: number): Promise<void> => {
      const deadline = Date.now() + 1000;
      while (out.length < n) {
        assert.ok(Date.now() < deadline, `only ${out.length} of ${n} records`);
        if (r.pollNext(output) === 'NOTHING_AVAILABLE') await Promise.race([r.isAvailable(), new Promise((res) => setTimeout(res, 50))]);
      }
    };
    writeFileSync(join(dir, 'a.txt'), 'a1\na2\n');
    const first = reader(source, [split!]);
    await pollUntil(first, 2);
    // A new file appears; a hidden one (still being written) is passed over.
    writeFileSync(join(dir, '.b.txt.tmp'), 'never\n');
    writeFileSync(join(dir, 'b.txt'), Array.from({ length: 100 }, (_, i) => `b${i}`).join('\n') + '\n');
    const status = first.pollNext(output); // may list again (after 5 ms) or wait
    if (status === 'NOTHING_AVAILABLE') await first.isAvailable();
    while (out.length < 2 + 64) first.pollNext(output);
    const [snap] = first.snapshotState(1);
    assert.equal(snap!.kind, 'monitor');
    if (snap!.kind !== 'monitor') return;
    assert.deepEqual(snap!.done, [join(dir, 'a.txt')]);
    assert.equal(snap!.reading?.path, join(dir, 'b.txt'));
    assert.equal(snap!.reading?.line, out.length - 2 + 1, 'the position is the line after the last emitted');
    first.close?.();
    const seen = out.length;
    const restored = reader(source, [JSON.parse(JSON.stringify(snap))]);
    await pollUntil(restored, 102);
    restored.close?.();
    assert.deepEqual(out.slice(seen), Array.from({ length: 100 }, (_, i) => `b${i}`).slice(seen - 2));
    assert.deepEqual(new Set(out).size, out.length, 'nothing read twice');
  });

  it('monitoring: each file goes to exactly one of the p shares', () => {
    const names = Array.from({ length: 200 }, (_, i) => join('/data', `f-${i}.txt`));
    for (const p of [1, 2, 3, 4]) {
      const counts = Array.from({ length: p }, () => 0);
      for (const n of names) counts[ownerOf(n, p)]!++;
      assert.equal(counts.reduce((a, b) => a + b, 0), 200);
      if (p > 1) assert.ok(counts.every((c) => c > 200 / p / 2), `p=${p}: shares ${counts.join('/')} are roughly even`);
    }
  });

  it('in a job, malformed records tagged by withMalformedRecords go to a side output and the rest goes on', async () => {
    const dir = dirWith({ 'a.jsonl': '{"id":1}\n{"id":\n{"id":2}\n', 'b.jsonl': 'oops\n{"id":3}\n' });
    const job = fileURLToPath(new URL('./fixtures/malformed-side-output-job.ts', import.meta.url));
    const { collected } = await runJob(job, { args: [dir], mode: 'inline', parallelism: 1 });
    assert.deepEqual((collected as string[]).sort(), ['bad a.jsonl:2', 'bad b.jsonl:1', 'ok 1', 'ok 2', 'ok 3']);
  });
});
