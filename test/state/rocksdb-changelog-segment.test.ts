/**
 * Change log segments (rocksdb-changelog.ts) read back: from memory and from a local file a
 * slice at a time, the same records in the same order, also across slice boundaries and with a
 * record larger than a slice; a segment cut short or not a segment is refused naming the file.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChangeLog, type LogTarget, replaySegment, replaySegmentFile } from '../../src/state/rocksdb/rocksdb-changelog.ts';

const root = mkdtempSync(join(tmpdir(), 'weir-changelog-segment-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** Records as strings, copied when given (the file replay reuses its buffer after flush). */
function recorder(): LogTarget & { flush(): void; readonly seen: string[]; flushes: number } {
  const seen: string[] = [];
  const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
  return {
    seen,
    flushes: 0,
    flush() {
      this.flushes++;
    },
    put: (k, v) => void seen.push(`put ${hex(k)} ${v.byteLength} ${hex(v.subarray(0, 8))}${hex(v.subarray(-8))}`),
    delete: (k) => void seen.push(`del ${hex(k)}`),
    deleteRange: (s, e) => void seen.push(`range ${hex(s)} ${hex(e)}`),
  };
}

test('a segment of several slices, with a record larger than a slice, replays from its file exactly as from memory; cut short or foreign, it is refused by name', async () => {
  const log = new ChangeLog(join(root, 'log'));
  log.cut(); // starts the log
  const key = (i: number): Uint8Array => Buffer.from(`key-${i.toString().padStart(7, '0')}`);
  for (let i = 0; i < 120_000; i++) {
    if (i % 97 === 0) log.delete(key(i));
    else if (i % 1001 === 0) log.deleteRange(key(i), key(i + 10));
    else log.put(key(i), Buffer.alloc(40 + (i % 30), i & 0xff));
    // One value of 9 MiB: larger than a slice of the file replay.
    if (i === 60_000) log.put(key(-1), Buffer.alloc(9 << 20, 7));
  }
  const seq = log.cut();
  const [segment] = log.segments(seq - 1, seq);
  assert.ok(segment !== undefined && segment.size > 16 << 20, `one segment of ${segment?.size} bytes`);

  const fromMemory = recorder();
  replaySegment(readFileSync(segment.path), 'seg', fromMemory);
  const fromFile = recorder();
  await replaySegmentFile(segment.path, 'seg', fromFile);
  assert.equal(fromMemory.seen.length, 120_000 + 1);
  assert.deepEqual(fromFile.seen, fromMemory.seen);
  assert.ok(fromFile.flushes >= 5, `the file was read in slices (${fromFile.flushes} flushes)`);

  const bytes = readFileSync(segment.path);
  const short = join(root, 'short.log');
  writeFileSync(short, bytes.subarray(0, bytes.byteLength - 5));
  await assert.rejects(replaySegmentFile(short, 'shared/x.clog', recorder()), /shared\/x\.clog: corrupt RocksDB change log segment: cut short/);
  assert.throws(() => replaySegment(bytes.subarray(0, bytes.byteLength - 5), 'shared/x.clog', recorder()), /shared\/x\.clog: corrupt RocksDB change log segment: cut short/);
  const foreign = join(root, 'foreign.log');
  writeFileSync(foreign, 'not a segment at all');
  await assert.rejects(replaySegmentFile(foreign, 'shared/y.clog', recorder()), /shared\/y\.clog is not a RocksDB change log segment/);
  const tagged = Buffer.from(bytes.subarray(0, 64));
  tagged[8] = 9;
  assert.throws(() => replaySegment(tagged, 'shared/z.clog', recorder()), /shared\/z\.clog: corrupt RocksDB change log segment: unknown record tag 9 at byte 8/);
  log.close();
});
