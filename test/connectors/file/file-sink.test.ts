/**
 * FileSink's writer and committer driven directly, as the sink operator drives them, with the
 * writer context's processing time set by hand: bucket assigners, rolling by size, by time and on
 * checkpoint, hidden in-progress and pending parts, restore by truncation, idempotent commits.
 * Every check reads the real files.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CommitRequest, SinkWriterContext, SinkWriterElementContext } from 'weir';
import {
  BasePathBucketAssigner,
  DateTimeBucketAssigner,
  DefaultRollingPolicy,
  FileSink,
  OnCheckpointRollingPolicy,
  OutputFileConfig,
  SimpleStringEncoder,
  type BucketAssigner,
  type FileSinkCommittable,
  type FileSinkWriter,
  type FileSinkWriterState,
  type RollingPolicy,
} from 'weir/connectors/file';

const scratch = mkdtempSync(join(tmpdir(), 'weir-file-sink-unit-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(scratch, `t${n++}`);

const HOUR = 3_600_000;
/** 2026-01-02 03:00:00 UTC. */
const T0 = Date.UTC(2026, 0, 2, 3, 0, 0);

/** A writer context whose processing time the test sets. */
class Clock {
  now = T0;
}
function writerContext(clock: Clock, restored: readonly FileSinkWriterState[] = [], subtask = 0): SinkWriterContext<FileSinkWriterState> {
  return {
    getJobId: () => 'job',
    getSubtaskIndex: () => subtask,
    getNumberOfParallelSubtasks: () => 1,
    getAttemptNumber: () => (restored.length > 0 ? 1 : 0),
    isRestored: () => restored.length > 0,
    getRestoredCheckpointId: () => (restored.length > 0 ? 1 : undefined),
    getRecoverySettings: () => ({ checkpointIntervalMs: undefined, restartStrategy: { kind: 'none' } }),
    getRestoredState: () => restored,
    currentProcessingTime: () => clock.now,
  };
}
const element: SinkWriterElementContext = { timestamp: () => undefined, currentWatermark: () => Number.NEGATIVE_INFINITY, recordId: () => 'id' };

type Outcome = 'committed' | 'already' | 'failed' | 'retry';
/** Commits through the sink's committer; returns each committable's outcome. */
async function commit(sink: FileSink<string>, committables: readonly FileSinkCommittable[]): Promise<Outcome[]> {
  const outcomes: Outcome[] = committables.map(() => 'committed');
  const requests = committables.map((c, i): CommitRequest<FileSinkCommittable> => {
    const set = (o: Outcome): void => {
      outcomes[i] = o;
    };
    return {
      getCommittable: () => c,
      getNumberOfRetries: () => 0,
      signalFailedWithKnownReason: () => set('failed'),
      signalFailedWithUnknownReason: () => set('failed'),
      retryLater: () => set('retry'),
      updateAndRetryLater: () => set('retry'),
      signalAlreadyCommitted: () => set('already'),
    };
  });
  const committer = await sink.createCommitter({ getJobId: () => 'job', getSubtaskIndex: () => 0, getNumberOfParallelSubtasks: () => 1, getAttemptNumber: () => 0 });
  await committer.commit(requests);
  return outcomes;
}

/** Every file under `dir` (relative paths, sorted) with its text. */
function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out[relative(dir, join(e.parentPath, e.name))] = readFileSync(join(e.parentPath, e.name), 'utf8');
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
/** What a reader of the output sees: files whose names do not start with '.'. */
function visible(dir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(files(dir)).filter(([p]) => !p.split('/').pop()!.startsWith('.')));
}
function sink(dir: string, policy: RollingPolicy<string>, assigner: BucketAssigner<string> = new BasePathBucketAssigner<string>(), checkInterval = 0): FileSink<string> {
  return FileSink.forRowFormat(dir, new SimpleStringEncoder<string>()).withBucketAssigner(assigner).withRollingPolicy(policy).withBucketCheckInterval(checkInterval).build();
}
/** A barrier: flush, prepareCommit, snapshotState. */
function barrier(w: FileSinkWriter<string>): { committables: FileSinkCommittable[]; state: FileSinkWriterState[] } {
  w.flush(false);
  const committables = w.prepareCommit();
  return { committables, state: w.snapshotState(1) };
}

describe('FileSink', () => {
  it('DateTimeBucketAssigner formats the processing time (default yyyy-MM-dd--HH); BasePathBucketAssigner uses the base path', () => {
    const ctx = { currentProcessingTime: () => Date.UTC(2026, 0, 2, 3, 4, 5, 6), currentWatermark: () => 0, timestamp: () => undefined };
    assert.equal(new DateTimeBucketAssigner<string>(undefined, 'UTC').getBucketId('x', ctx), '2026-01-02--03');
    assert.equal(new DateTimeBucketAssigner<string>("yyyy/MM/dd/'hour-'HH/mm:ss.SSS yy", 'UTC').getBucketId('x', ctx), '2026/01/02/hour-03/04:05.006 26');
    assert.throws(() => new DateTimeBucketAssigner('yyyy-QQ'), /unsupported pattern letters at 'QQ'/);
    assert.equal(new BasePathBucketAssigner<string>().getBucketId(), '', 'the base path itself');
  });

  it('parts are hidden while in progress and pending, and visible under their final name only once committed', async () => {
    const dir = freshDir();
    const s = sink(dir, new OnCheckpointRollingPolicy(), new DateTimeBucketAssigner<string>(undefined, 'UTC'));
    const clock = new Clock();
    const w = s.createWriter(writerContext(clock));
    w.write('a', element);
    clock.now += HOUR; // the next record goes to the next hour's bucket
    w.write('b', element);
    const inProgress = Object.keys(files(dir));
    assert.equal(inProgress.length, 2);
    for (const p of inProgress) assert.match(p, /^2026-01-02--0[34]\/\.part-[0-9a-f-]{36}-0-[01]\.inprogress$/);
    assert.deepEqual(visible(dir), {});
    const { committables } = barrier(w);
    assert.equal(committables.length, 2, 'both parts roll at the checkpoint');
    assert.deepEqual(visible(dir), {}, 'pending parts are still hidden');
    assert.deepEqual(await commit(s, committables), ['committed', 'committed']);
    const shown = visible(dir);
    assert.deepEqual(Object.values(shown), ['a\n', 'b\n']);
    assert.deepEqual(
      Object.keys(shown).map((p) => p.replace(/(?<=part-)[0-9a-f-]{36}/, 'UID')),
      ['2026-01-02--03/part-UID-0-0', '2026-01-02--04/part-UID-0-1'],
    );
    w.close();
  });

  it('DefaultRollingPolicy rolls by part size before the record that would exceed it; parts stay open across checkpoints until then', async () => {
    const dir = freshDir();
    const s = sink(dir, DefaultRollingPolicy.builder().withMaxPartSize(20).withRolloverInterval(HOUR).withInactivityInterval(HOUR).build());
    const clock = new Clock();
    const w = s.createWriter(writerContext(clock));
    for (let i = 0; i < 3; i++) w.write(`rec-${i}`, element); // 18 bytes: not over 20
    const first = barrier(w);
    assert.deepEqual(first.committables, [], 'the part is not over the size: it stays open across the checkpoint');
    assert.equal(first.state[0]!.inProgress.length, 1);
    assert.equal(first.state[0]!.inProgress[0]!.validLength, 18);
    for (let i = 3; i < 10; i++) w.write(`rec-${i}`, element);
    const second = barrier(w);
    // Rolled before rec-4 (the part held 24 bytes) and before rec-8; rec-8 and rec-9 (12 bytes) stay open.
    assert.equal(second.committables.length, 2);
    await commit(s, second.committables);
    assert.deepEqual(Object.values(visible(dir)).sort(), ['rec-0\nrec-1\nrec-2\nrec-3\n', 'rec-4\nrec-5\nrec-6\nrec-7\n']);
    assert.equal(second.state[0]!.inProgress[0]!.validLength, 12);
    w.close();
  });

  it('DefaultRollingPolicy rolls by rollover and inactivity interval on the writer context processing time, checked on records and at checkpoints', async () => {
    const dir = freshDir();
    const s = sink(dir, DefaultRollingPolicy.builder().withMaxPartSize(1 << 20).withRolloverInterval(1000).withInactivityInterval(300).build());
    const clock = new Clock();
    const w = s.createWriter(writerContext(clock));
    for (const t of [0, 200, 400, 600, 800]) {
      clock.now = T0 + t;
      w.write(`t${t}`, element);
    }
    clock.now = T0 + 1000;
    w.write('t1000', element); // the part is 1000 ms old: rolled before this record
    clock.now = T0 + 1200;
    assert.equal(barrier(w).committables.length, 1, 'the rollover interval rolled the first part');
    clock.now = T0 + 1350;
    assert.equal(barrier(w).committables.length, 1, 'no record for 350 ms: the inactivity interval rolls the second part at the checkpoint');
    assert.equal(Object.keys(files(dir)).length, 2);
    w.close();
  });

  it('OnCheckpointRollingPolicy rolls every part at every checkpoint and never in between', async () => {
    const dir = freshDir();
    const s = sink(dir, new OnCheckpointRollingPolicy());
    const clock = new Clock();
    const w = s.createWriter(writerContext(clock));
    for (let i = 0; i < 1000; i++) w.write(`r${i}`, element);
    clock.now += 10 * HOUR;
    w.write('late', element);
    assert.equal(Object.keys(files(dir)).length, 1, 'one part, however large or old');
    const { committables, state } = barrier(w);
    assert.equal(committables.length, 1);
    assert.deepEqual(state[0]!.inProgress, []);
    assert.deepEqual(barrier(w).committables, [], 'nothing written since: nothing to roll');
    await commit(s, committables);
    assert.equal(Object.values(visible(dir))[0]!.split('\n').length, 1002);
    w.close();
  });

  it('a restore truncates the open part to its checkpointed length and goes on appending to it', async () => {
    const dir = freshDir();
    const policy = DefaultRollingPolicy.builder().withMaxPartSize(1 << 20).withRolloverInterval(HOUR).withInactivityInterval(HOUR).build<string>();
    const s = sink(dir, policy);
    const clock = new Clock();
    const w1 = s.createWriter(writerContext(clock));
    w1.write('before-1', element);
    w1.write('before-2', element);
    const { committables, state } = barrier(w1);
    assert.deepEqual(committables, []);
    // Written after the checkpoint, then the attempt fails: these bytes must go.
    w1.write('lost-1', element);
    w1.write('lost-2', element);
    w1.flush(false);
    w1.close();
    const [partFile] = Object.keys(files(dir));
    assert.equal(statSync(join(dir, partFile!)).size, 32);

    const restored = JSON.parse(JSON.stringify(state)) as FileSinkWriterState[];
    const w2 = s.createWriter(writerContext(clock, restored));
    assert.equal(statSync(join(dir, partFile!)).size, 18, 'truncated to the valid length');
    w2.write('after-1', element);
    w2.write('new-part?', element);
    w2.flush(true);
    const last = w2.prepareCommit();
    assert.equal(last.length, 1, 'the end of input rolls the resumed part');
    await commit(s, last);
    assert.deepEqual(Object.values(visible(dir)), ['before-1\nbefore-2\nafter-1\nnew-part?\n']);
    assert.match(Object.keys(visible(dir))[0]!, /^part-[0-9a-f-]{36}-0-0$/, 'the resumed part keeps its name');
    // The next part of the restored writer continues the counter.
    w2.write('x', element);
    assert.ok(Object.keys(files(dir)).some((p) => /-0-1\.inprogress$/.test(p)));
    w2.close();
  });

  it('a restore with two old parts for one bucket (a rescale) resumes one and commits the other at the next checkpoint', async () => {
    const dir = freshDir();
    const policy = DefaultRollingPolicy.builder().withMaxPartSize(1 << 20).withRolloverInterval(HOUR).withInactivityInterval(HOUR).build<string>();
    const s = sink(dir, policy);
    const clock = new Clock();
    const states: FileSinkWriterState[] = [];
    for (const subtask of [0, 1]) {
      const w = s.createWriter(writerContext(clock, [], subtask));
      w.write(`from-${subtask}`, element);
      states.push(...barrier(w).state);
      w.close();
    }
    const merged = s.createWriter(writerContext(clock, states));
    merged.write('merged', element);
    const { committables, state } = barrier(merged);
    assert.equal(committables.length, 1, 'the second restored part is handed over');
    assert.equal(state[0]!.inProgress.length, 1, 'the first goes on');
    merged.flush(true);
    await commit(s, [...committables, ...merged.prepareCommit()]);
    assert.deepEqual(Object.values(visible(dir)).sort(), ['from-0\nmerged\n', 'from-1\n']);
    merged.close();
  });

  it('commits are idempotent: a committed part is signalled already committed; a part that is nowhere fails', async () => {
    const dir = freshDir();
    const s = sink(dir, new OnCheckpointRollingPolicy());
    const w = s.createWriter(writerContext(new Clock()));
    w.write('once', element);
    const { committables } = barrier(w);
    assert.deepEqual(await commit(s, committables), ['committed']);
    assert.deepEqual(await commit(s, committables), ['already']);
    assert.deepEqual(Object.values(visible(dir)), ['once\n']);
    assert.deepEqual(await commit(s, [{ bucket: '', name: 'part-nowhere-0-0' }]), ['failed']);
    w.close();
  });

  it('OutputFileConfig sets the part prefix and suffix; a bucket outside the base path is refused', async () => {
    const dir = freshDir();
    const s = FileSink.forRowFormat(dir, new SimpleStringEncoder<string>())
      .withBucketAssigner(new BasePathBucketAssigner())
      .withRollingPolicy(new OnCheckpointRollingPolicy())
      .withOutputFileConfig(OutputFileConfig.builder().withPartPrefix('events').withPartSuffix('.txt').build())
      .build();
    const w = s.createWriter(writerContext(new Clock(), [], 3));
    w.write('x', element);
    await commit(s, barrier(w).committables);
    assert.match(Object.keys(visible(dir))[0]!, /^events-[0-9a-f-]{36}-3-0\.txt$/);
    w.close();
    assert.throws(() => OutputFileConfig.builder().withPartPrefix('.hidden').build(), /not hidden/);
    const escaping = FileSink.forRowFormat(dir, new SimpleStringEncoder<string>()).withBucketAssigner({ getBucketId: () => '../elsewhere' }).build();
    assert.throws(() => escaping.createWriter(writerContext(new Clock())).write('x', element), /outside the base path/);
  });
});
