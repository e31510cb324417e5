/**
 * Unaligned checkpoints end to end, under failures (the scenarios of Flink's
 * UnalignedCheckpointITCase): each case runs one topology of test/jobs/unaligned-topologies.ts —
 * an order-keeping pipeline, a union of four sources, a keyed exchange with keyed state, a
 * broadcast, a two-input connect — at parallelism 1 to 4, in both execution modes, with a slow
 * sink that keeps the buffers full and small network buffers, so that every checkpoint overtakes
 * in-flight records. The job fails in a map after a quarter of its checkpoints, in snapshotState
 * at half, and in a map at three quarters, whose recovery fails once more; then it runs to its
 * end. Each case asserts that the four restarts happened and restored a checkpoint, that
 * checkpoints were unaligned and stored in-flight data, and that the collected output holds every
 * record of every source exactly once, in each source's order wherever the topology keeps it.
 *
 * Collected output is exactly-once across restarts (batches after the restored checkpoint are
 * dropped and produced again) and keeps the order in which each sink subtask emitted, so the order
 * of a source's records through order-keeping edges can be checked on it directly.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CheckpointStatsSnapshot } from '../../src/api/checkpoint-statistics.ts';
import type { JobClient } from '../../src/api/job-client.ts';
import { startJob } from '../../src/testing/index.ts';
import type { Rec, Topology, UnalignedOptions } from '../jobs/unaligned-topologies.ts';

const JOB = 'test/jobs/unaligned-topologies.ts';
/** The fixture's failure plan: three failures, and one more while recovering from the third. */
const FAILURE_RESTARTS = 4;
const KEYS_PER_SOURCE = 8;
const dir = mkdtempSync(join(tmpdir(), 'weir-unaligned-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly topology: Topology;
  readonly parallelism: number;
  readonly mode: 'inline' | 'threads';
  readonly receivers?: number;
  readonly sinkParallelism?: number;
  /**
   * Records per network buffer: small, so that full buffers hold little and checkpoints stay
   * quick; larger where one thread runs every subtask, whose turns would otherwise often leave
   * the queues empty when a barrier passes.
   */
  readonly bufferRecords: number;
}

const CASES: readonly Case[] = [
  { topology: 'pipeline', parallelism: 1, mode: 'inline', bufferRecords: 256 },
  { topology: 'pipeline', parallelism: 4, sinkParallelism: 2, mode: 'threads', bufferRecords: 64 },
  { topology: 'union', parallelism: 2, mode: 'inline', bufferRecords: 32 },
  { topology: 'keyed', parallelism: 3, mode: 'threads', bufferRecords: 64 },
  { topology: 'broadcast', parallelism: 2, receivers: 3, mode: 'inline', bufferRecords: 64 },
  { topology: 'connect', parallelism: 2, mode: 'threads', bufferRecords: 128 },
];

/** How many source subtasks a topology has, and how many copies of each record reach the sink. */
function sourcesOf(c: Case): { sources: number; copies: number } {
  const p = c.parallelism;
  switch (c.topology) {
    case 'union':
      return { sources: 4 * p, copies: 1 };
    case 'connect':
      return { sources: 2 * p, copies: 1 };
    case 'broadcast':
      return { sources: p, copies: c.receivers ?? p };
    default:
      return { sources: p, copies: 1 };
  }
}

/** Completed checkpoints and restores seen while the job ran: the statistics keep a bounded history only. */
class CheckpointWatch {
  readonly completed = new Map<number, { type: string; persisted: number }>();
  readonly restoredFrom = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #error: unknown;
  constructor(readonly client: JobClient) {}
  start(): void {
    this.#timer = setInterval(() => {
      this.poll().catch((e: unknown) => {
        this.#error ??= e;
      });
    }, 25);
  }
  async poll(): Promise<CheckpointStatsSnapshot | undefined> {
    const stats = await this.client.getCheckpointStats();
    for (const h of stats?.history ?? []) {
      if (h.status === 'COMPLETED') this.completed.set(h.id, { type: h.checkpoint_type, persisted: h.persisted_data });
    }
    const restored = stats?.latest.restored;
    if (restored) this.restoredFrom.add(restored.id);
    return stats;
  }
  /** Stops polling; throws what a poll failed with, if one did. */
  stop(): void {
    clearInterval(this.#timer);
    if (this.#error !== undefined) throw this.#error;
  }
}

/**
 * Checks the collected records: for every (receiver, source) lane the sequence numbers are
 * exactly 0..last, each once, and the record flagged last is the one with the highest number;
 * where the topology keeps order, they come in that order. Keyed: order and the keyed count are
 * checked per key (a key's records all pass one subtask and one channel), the count being the
 * record's position among its key's records — the keyed state neither lost nor repeated a record.
 * Returns the number of records per lane.
 */
function verify(c: Case, out: readonly Rec[]): number[] {
  const { sources, copies } = sourcesOf(c);
  const lanes = new Map<string, number[]>();
  const lastOf = new Map<string, number[]>();
  const keys = new Map<number, { seqs: number[]; counts: number[] }>();
  for (const [source, seq, last, tag] of out) {
    assert.ok(Number.isInteger(source) && source >= 0 && source < sources, `record from unknown source ${source}`);
    const receiver = c.topology === 'broadcast' ? tag : 0;
    assert.ok(receiver >= 0 && receiver < copies, `record of unknown receiver ${receiver}`);
    const lane = `receiver ${receiver}, source ${source}`;
    entry(lanes, lane, () => []).push(seq);
    if (last === 1) entry(lastOf, lane, () => []).push(seq);
    if (c.topology === 'keyed') {
      const key = source * KEYS_PER_SOURCE + (seq % KEYS_PER_SOURCE);
      const k = entry(keys, key, () => ({ seqs: [], counts: [] }));
      k.seqs.push(seq);
      k.counts.push(tag);
    }
  }
  assert.equal(lanes.size, sources * copies, `records from ${lanes.size} (receiver, source) lanes instead of ${sources * copies}`);
  const sizes: number[] = [];
  for (const [lane, seqs] of lanes) {
    const lasts = lastOf.get(lane) ?? [];
    assert.equal(lasts.length, 1, `${lane}: ${lasts.length} records flagged last instead of 1 (the end lost or repeated)`);
    const n = lasts[0]! + 1;
    if (c.topology === 'keyed') {
      const sorted = [...seqs].sort((a, b) => a - b);
      const bad = sorted.findIndex((s, i) => s !== i);
      assert.ok(bad < 0 && sorted.length === n, `${lane}: ${describeGap(sorted, bad, n)}`);
    } else {
      const bad = seqs.findIndex((s, i) => s !== i);
      assert.ok(bad < 0 && seqs.length === n, `${lane}: ${describeGap(seqs, bad, n)}`);
    }
    sizes.push(n);
  }
  for (const [key, { seqs, counts }] of keys) {
    const disorder = seqs.findIndex((s, i) => i > 0 && s <= seqs[i - 1]!);
    assert.ok(disorder < 0, `key ${key}: seq ${seqs[disorder]} after ${seqs[disorder - 1]} (out of order or repeated)`);
    const wrong = counts.findIndex((n, i) => n !== i + 1);
    assert.ok(wrong < 0, `key ${key}: its record #${wrong + 1} (seq ${seqs[wrong]}) was counted as #${counts[wrong]}: keyed state lost or repeated records`);
  }
  return sizes;
}

function entry<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

function describeGap(seqs: readonly number[], bad: number, n: number): string {
  if (bad < 0) return `${seqs.length} records instead of ${n}`;
  const expected = bad;
  const got = seqs[bad]!;
  const what = got < expected ? 'repeated or out of order' : 'lost (or out of order)';
  return `at position ${bad} seq ${got} where ${expected} was due: ${what}; ${seqs.length} records, last seq ${n - 1}`;
}

describe('unaligned checkpoints with injected failures', { timeout: 600_000 }, () => {
  for (const c of CASES) {
    const shape = `${c.topology} at parallelism ${c.parallelism}${c.receivers ? ` to ${c.receivers} receivers` : ''}${c.sinkParallelism ? `, sink ${c.sinkParallelism}` : ''}`;
    it(`${shape} (${c.mode}): four restarts, unaligned checkpoints with in-flight data, every record once and in order`, { timeout: 180_000 }, async () => {
      const options: UnalignedOptions = {
        topology: c.topology,
        parallelism: c.parallelism,
        ...(c.receivers === undefined ? {} : { receivers: c.receivers }),
        ...(c.sinkParallelism === undefined ? {} : { sinkParallelism: c.sinkParallelism }),
        // Failures at checkpoints 2, 4 and 6, the end at 8: every failure still comes after a
        // completed checkpoint to restore, and the job ends after the last recovery's checkpoint.
        checkpoints: 8,
        interval: 20,
        dir: join(dir, `${c.topology}-${c.parallelism}-${c.mode}`),
        spin: 0.02,
        failures: true,
        keys: KEYS_PER_SOURCE,
      };
      const client = await startJob(JOB, { args: [JSON.stringify(options)], mode: c.mode, config: { 'weir.network.buffer-records': c.bufferRecords } });
      const watch = new CheckpointWatch(client);
      watch.start();
      let result: { collected: Map<string, unknown[]> };
      try {
        result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
      } finally {
        watch.stop();
      }
      const stats = (await watch.poll())!;

      assert.equal(await client.getNumRestarts(), FAILURE_RESTARTS, 'the job failed and restarted as planned');
      assert.equal(stats.counts.restored, FAILURE_RESTARTS, `every restart restored a checkpoint: ${JSON.stringify(stats.counts)}`);
      const completed = [...watch.completed.entries()];
      const withData = completed.filter(([, s]) => s.type === 'UNALIGNED_CHECKPOINT' && s.persisted > 0);
      assert.ok(
        withData.length > 0,
        `an unaligned checkpoint stored in-flight data; completed checkpoints seen: ${JSON.stringify(completed)}`,
      );

      const restoredFrom = [...watch.restoredFrom].map((id) => ({ id, persisted: watch.completed.get(id)?.persisted }));
      assert.ok(
        restoredFrom.some((r) => (r.persisted ?? 0) > 0),
        `a restore replayed in-flight data; restored from ${JSON.stringify(restoredFrom)}`,
      );

      const sizes = verify(c, [...result.collected.values()].flat() as Rec[]);
      assert.ok(
        sizes.every((n) => n > 1),
        `every source emitted records: ${JSON.stringify(sizes)}`,
      );
    });
  }
});
