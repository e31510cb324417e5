/**
 * Rescaling from unaligned checkpoints (the scenarios of Flink's UnalignedCheckpointRescaleITCase)
 * and the aligned-checkpoint timeout, end to end.
 *
 * A backpressured job (test/jobs/unaligned-rescale.ts: a slow stage behind the exchange under
 * test) takes unaligned checkpoints until one stored in-flight records of that exchange; it is
 * cancelled (the checkpoint is retained) and restored from that checkpoint at a larger and at a
 * smaller parallelism. The job counts every number per key and reports the counts only at the end
 * of input, so the restored run's output shows how often each number was counted over both runs:
 * exactly once, however the in-flight records were re-routed (once per slow subtask for broadcast).
 *
 * Small network buffers (16 records, 2 credits per channel) keep the in-flight data of a channel
 * to a few batches, so that a slow stage of 1 ms per record is back-pressured at once and the
 * stored channel state stays small.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CheckpointStatsEntry } from '../../src/api/checkpoint-statistics.ts';
import type { JobClient } from '../../src/api/job-client.ts';
import { loadCheckpoint } from '../../src/checkpoint/filesystem-checkpoint-storage.ts';
import type { CheckpointMetadata } from '../../src/checkpoint/checkpoint-types.ts';
import { runJob, startJob } from '../../src/testing/index.ts';
import type { Variant } from '../jobs/unaligned-rescale.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-unaligned-rescale-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const JOB = 'test/jobs/unaligned-rescale.ts';
/**
 * Numbers per source. A first run in inline mode (every subtask on one thread) takes checkpoints
 * more slowly, so its input is longer: a checkpoint with in-flight data must come before the end.
 */
const N = 10_000;
const N_INLINE = 20_000;
/** Splits per source in the job (its SPLITS). */
const SPLITS = 6;
const NET = { 'weir.network.buffer-records': 16, 'weir.network.credits-per-channel': 2 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Taken {
  readonly chk: string;
  readonly entry: CheckpointStatsEntry;
  /** The stored channels of the checkpoint, by operator uid and subtask, as written to `_metadata`. */
  readonly channels: { uid: string; subtask: number; partitioner: string; records: number }[];
}

/** The channel-state entries of `_metadata`, read as written (not through the restore path). */
function writtenChannels(chk: string): Taken['channels'] {
  const envelope = JSON.parse(readFileSync(join(chk, '_metadata'), 'utf8')) as { metadata: CheckpointMetadata };
  const out: Taken['channels'] = [];
  for (const o of envelope.metadata.operators) {
    o.subtasks.forEach((s, subtask) => {
      for (const c of s?.channelState?.channels ?? []) out.push({ uid: o.uid ?? o.operatorId, subtask, partitioner: c.partitioner, records: c.records });
    });
  }
  return out;
}

/**
 * Triggers checkpoints of a backpressured run until one is complete with persisted in-flight
 * data that satisfies `wanted`; then cancels the run (the checkpoint is retained).
 */
async function takeUnaligned(client: JobClient, wanted: (t: Taken) => boolean): Promise<Taken> {
  await sleep(100);
  const seen: string[] = [];
  let found: Taken | undefined;
  try {
    for (let attempt = 0; attempt < 30 && found === undefined; attempt++) {
      const chk = await client.triggerCheckpoint();
      const entry = (await client.getCheckpointStats())!.history.find((h) => h.external_path === chk)!;
      const t: Taken = { chk, entry, channels: writtenChannels(chk) };
      seen.push(`${entry.id}: ${entry.checkpoint_type} ${entry.persisted_data} B ${JSON.stringify(t.channels)}`);
      if (entry.status === 'COMPLETED' && entry.persisted_data > 0 && wanted(t)) found = t;
    }
  } finally {
    await client.cancel().catch(() => {});
  }
  if (found === undefined) assert.fail(`no checkpoint stored the in-flight data looked for:\n${seen.join('\n')}`);
  await assert.rejects(client.getJobExecutionResult(), /cancel/i, 'the run was cancelled, not finished');
  return found;
}

async function firstRun(variant: Variant, p: number, mode: 'inline' | 'threads', n: number, unaligned = 0): Promise<JobClient> {
  return startJob(JOB, {
    args: [variant, String(n), JSON.stringify({ dir, unaligned, slowMs: 1 })],
    parallelism: p,
    mode,
    config: NET,
  });
}

/** Restores `chk` at `p` (the slow stage no longer slow) and returns each number's count. */
async function restore(variant: Variant, chk: string, p: number, n: number, mode: 'inline' | 'threads' = 'inline'): Promise<Map<number, number>> {
  const { collected } = await runJob(JOB, { args: [variant, String(n), '{}'], parallelism: p, mode, config: { ...NET, 'execution.savepoint.path': chk } });
  const counts = new Map<number, number>();
  for (const [k, n] of collected as [number, number][]) {
    assert.equal(counts.has(k), false, `key ${k} reported twice`);
    counts.set(k, n);
  }
  return counts;
}

/** Every number 1..total counted exactly `times` (by default once). */
function assertExact(counts: Map<number, number>, total: number, label: string): void {
  const missing: number[] = [];
  const wrong: string[] = [];
  for (let x = 1; x <= total; x++) {
    const c = counts.get(x);
    if (c === undefined) missing.push(x);
    else if (c !== 1) wrong.push(`${x}×${c}`);
  }
  assert.deepEqual({ missing: missing.slice(0, 10), missingCount: missing.length, wrong: wrong.slice(0, 10) }, { missing: [], missingCount: 0, wrong: [] }, label);
  assert.equal(counts.size, total, label);
}

/** The checkpoint's metadata, read back as a restore reads it, holds the stored channels. */
async function assertRestorableChannelState(chk: string, uid: string, partitioner: string): Promise<void> {
  const { metadata } = await loadCheckpoint(chk);
  const op = metadata.operators.find((o) => o.uid === uid);
  assert.ok(op !== undefined, `operator ${uid} in ${chk}`);
  const channels = op.subtasks.flatMap((s) => s?.channelState?.channels ?? []);
  assert.ok(
    channels.some((c) => c.partitioner === partitioner && c.records > 0),
    `${uid} has stored ${partitioner} channels in the metadata a restore reads: ${JSON.stringify(channels)}`,
  );
}

const holds = (uid: string, partitioner: string) => (t: Taken) => t.channels.some((c) => c.uid === uid && c.partitioner === partitioner && c.records > 0);

/** The scenarios with one number per key: [variant, exchange into the slow stage, stage uid, first-run mode, numbers per source, sources]. */
const exact: [Variant, string, string, 'inline' | 'threads', number, number][] = [
  ['keyed', 'hash', 'count', 'threads', N, 1],
  ['rebalance', 'rebalance', 'slow-map', 'threads', N, 1],
  ['rescale', 'rescale', 'slow-map', 'inline', N_INLINE, 1],
  ['forward', 'forward', 'slow-map', 'threads', N, 1],
  ['union', 'hash', 'count', 'threads', N, 2],
  ['connect', 'hash', 'count', 'threads', N, 2],
];

describe('rescaling from an unaligned checkpoint', () => {
  for (const [variant, partitioner, uid, mode, n, sources] of exact) {
    const total = n * sources;
    it(`${variant} (${partitioner} exchange, first run ${mode}): 2 → 3 and 2 → 1, every number counted exactly once`, async () => {
      const taken = await takeUnaligned(await firstRun(variant, 2, mode, n), holds(uid, partitioner));
      assert.equal(taken.entry.checkpoint_type, 'UNALIGNED_CHECKPOINT');
      assert.ok(taken.entry.persisted_data > 0);
      await assertRestorableChannelState(taken.chk, uid, partitioner);
      // The keyed restore replays over remote channels too (threads); the others inline.
      assertExact(await restore(variant, taken.chk, 3, n, variant === 'keyed' ? 'threads' : 'inline'), total, `${variant} 2 → 3`);
      assertExact(await restore(variant, taken.chk, 1, n), total, `${variant} 2 → 1`);
    });
  }

  it('broadcast: scale-up replays each old copy once; a scale-down while a dropped subtask holds broadcast data is refused', async () => {
    // Slow subtask 1 (dropped at parallelism 1) must hold stored broadcast records.
    const taken = await takeUnaligned(await firstRun('broadcast', 2, 'threads', N), (t) =>
      t.channels.some((c) => c.uid === 'slow-map' && c.subtask === 1 && c.partitioner === 'broadcast' && c.records > 0),
    );
    await assertRestorableChannelState(taken.chk, 'slow-map', 'broadcast');
    await assert.rejects(
      restore('broadcast', taken.chk, 1, N),
      /holds \d+ in-flight broadcast records for subtask 1 of "slow-map", which does not exist at parallelism 1: .*restore at parallelism 2 or more/,
    );
    // Each number reaches every slow subtask: numbers the sources had read at the checkpoint were
    // counted by the 2 old subtasks, the rest by the 3 new ones. The sources read each split in
    // order, so per split the 2s come first.
    const counts = await restore('broadcast', taken.chk, 3, N);
    assert.equal(counts.size, N);
    let from = 1;
    let before = 0;
    for (let s = 0; s < SPLITS; s++) {
      const size = Math.floor(N / SPLITS) + (s < N % SPLITS ? 1 : 0);
      const seq = Array.from({ length: size }, (_, i) => counts.get(from + i));
      const twos = seq.findIndex((c) => c !== 2);
      const cut = twos < 0 ? size : twos;
      assert.ok(
        seq.slice(cut).every((c) => c === 3),
        `split ${s} (${from}..${from + size - 1}): counts 2 then 3, got ${JSON.stringify(seq.slice(Math.max(0, cut - 3), cut + 10))} at ${cut}`,
      );
      before += cut;
      from += size;
    }
    assert.ok(before > 0 && before < N, `the checkpoint was taken in the middle of the input (${before} of ${N} read)`);
  });
});

describe('aligned-checkpoint timeout under backpressure', () => {
  for (const [timeout, type] of [
    [1, 'UNALIGNED_CHECKPOINT'],
    [600_000, 'CHECKPOINT'],
  ] as const) {
    it(`${timeout} ms: checkpoints are ${type}; restored at another parallelism, the counts are exact`, async () => {
      const client = await firstRun('rebalance', 2, 'threads', N, timeout);
      await sleep(100);
      const entries: CheckpointStatsEntry[] = [];
      let chk = '';
      try {
        for (let i = 0; i < 2; i++) {
          chk = await client.triggerCheckpoint();
          entries.push((await client.getCheckpointStats())!.history.find((h) => h.external_path === chk)!);
        }
      } finally {
        await client.cancel();
      }
      for (const e of entries) {
        assert.equal(e.checkpoint_type, type, `checkpoint ${e.id}`);
        const subtasks = Object.values(e.subtasks);
        if (type === 'CHECKPOINT') {
          assert.equal(e.persisted_data, 0);
          assert.ok(subtasks.every((s) => s.persisted_data === 0 && !s.unaligned_checkpoint));
        } else {
          assert.ok(subtasks.some((s) => s.unaligned_checkpoint), `checkpoint ${e.id} went unaligned in some subtask`);
        }
      }
      // A subtask may go unaligned at a moment its channels hold nothing; behind the slow stage not all do.
      if (type === 'UNALIGNED_CHECKPOINT') assert.ok(entries.some((e) => e.persisted_data > 0), 'in-flight data was stored');
      assertExact(await restore('rebalance', chk, 3, N), N, `timeout ${timeout} ms, 2 → 3`);
    });
  }
});

describe('stop with a savepoint while unaligned checkpoints run under backpressure', () => {
  it('the savepoint is aligned (no in-flight data) and a restore at another parallelism counts every number once', async () => {
    const client = await firstRun('keyed', 2, 'threads', N, 0);
    await sleep(100);
    const chk = await client.triggerCheckpoint();
    const entry = (await client.getCheckpointStats())!.history.find((h) => h.external_path === chk)!;
    assert.equal(entry.checkpoint_type, 'UNALIGNED_CHECKPOINT', 'the periodic kind of checkpoint is unaligned');
    const savepoint = await client.stopWithSavepoint(join(dir, 'stop-savepoints'));
    assert.equal(await client.getJobStatus(), 'FINISHED');
    const stats = (await client.getCheckpointStats())!;
    const sp = stats.history.find((h) => h.external_path === savepoint)!;
    assert.equal(sp.checkpoint_type, 'SYNC_SAVEPOINT');
    assert.equal(sp.persisted_data, 0, 'a savepoint stores no in-flight data');
    const { metadata } = await loadCheckpoint(savepoint);
    assert.equal(metadata.kind, 'savepoint');
    assert.ok(
      metadata.operators.every((o) => o.subtasks.every((s) => s?.channelState === undefined)),
      'no operator of the savepoint holds channel state',
    );
    assertExact(await restore('keyed', savepoint, 3, N), N, 'stopped at 2, restored at 3');
  });
});
