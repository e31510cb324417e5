/**
 * The contract suite every split-based Source (api/source.ts) opts into. Readers are driven
 * directly, as a task drives them (static assignment: split i to subtask i % p, then
 * notifyNoMoreSplits), so the checks are fast and exact; one case runs the source in a real job.
 *
 * For every source:
 *  - createSplits is deterministic for p = 1..4 (again, and on another instance: every worker
 *    builds its own), split ids are unique, splits are plain data.
 * For a bounded source, against the full input as a multiset:
 *  - every record is read exactly once across the readers at p = 1..4;
 *  - rewind: after a random number of polls per reader (fast-check, several seeds) the readers'
 *    snapshot, handed to fresh readers, gives the rest: before + after = the input. The snapshot
 *    is plain data (survives structuredClone, and JSON unless the case says otherwise) and does
 *    not change when the old readers go on reading;
 *  - rescale: a snapshot taken at p and dealt to p' readers as a restore deals it gives the same;
 *  - end of input: a reader returns END_OF_INPUT only after notifyNoMoreSplits and once its splits
 *    are done, then keeps returning it and emits nothing more;
 *  - a job at p = 2 with checkpoints every 50 ms and a failure collects the input exactly once.
 * For an unbounded source: no END_OF_INPUT within a poll budget, even after notifyNoMoreSplits;
 * with distinct records, a rewind or rescale repeats none.
 *
 * How a source opts in: export a SourceContractCase from a module (the job imports that module
 * again in every worker, so the case names its own module and export) and call
 * `sourceContract(theCase)` from a `*.test.ts` file. WEIR_SEED=<n> replays one seed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import type { InputStatus, ReaderOutput, Source, SourceReader, SourceSplit } from 'weir';
import { startJob } from '../../src/testing/index.ts';

export interface SourceContractCase<T, S extends SourceSplit = SourceSplit> {
  readonly name: string;
  /** Absolute path of the module that exports this case, and the export's name. */
  readonly module: string;
  readonly exportName: string;
  create(): Source<T, S>;
  /** A bounded source's whole input, as a multiset (any order). Left out for an unbounded source. */
  expected?(): readonly T[];
  /** How records compare (default: JSON.stringify). Also used inside the job, so it must be a pure function. */
  key?(record: T): string;
  /** Whether splits and snapshots survive a JSON round trip (default true; structuredClone is always required). */
  readonly jsonSnapshots?: boolean;
  /** Unbounded sources: whether every record is distinct, so that a repeated one shows. */
  readonly distinctRecords?: boolean;
  /**
   * How long a reader that said NOTHING_AVAILABLE may take to have more, before the end-of-input
   * check takes it as having read everything it can before notifyNoMoreSplits (default 20 ms;
   * more for a source that fetches over the network).
   */
  readonly idleMs?: number;
}

const JOB = fileURLToPath(new URL('./fixtures/source-contract-job.ts', import.meta.url));
const SEEDS = process.env['WEIR_SEED'] !== undefined ? [Number(process.env['WEIR_SEED'])] : [20261202, 7, 424242];
const RUNS_PER_SEED = 12;
const PARALLELISMS = [1, 2, 3, 4] as const;
/** Polls per reader of an unbounded source. */
const UNBOUNDED_POLLS = 100;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Readers for subtasks 0..p-1 with the splits a fresh start gives them, or the given ones (a restore). */
function openReaders<T, S extends SourceSplit>(source: Source<T, S>, p: number, assigned?: readonly (readonly S[])[], noMore = true): SourceReader<T, S>[] {
  const splits = assigned ?? Array.from({ length: p }, (_, i) => source.createSplits(p).filter((_, j) => j % p === i));
  return Array.from({ length: p }, (_, i) => {
    const reader = source.createReader({ getIndexOfSubtask: () => i, getNumberOfParallelSubtasks: () => p });
    reader.addSplits(splits[i] ?? []);
    if (noMore) reader.notifyNoMoreSplits();
    return reader;
  });
}

function outputInto<T>(out: T[]): ReaderOutput<T> {
  return { collect: (value) => void out.push(value) };
}

/** Polls a reader `polls` times or until it ends. */
function pollTimes<T>(reader: SourceReader<T, SourceSplit>, polls: number, out: T[]): InputStatus | undefined {
  const output = outputInto(out);
  let status: InputStatus | undefined;
  for (let k = 0; k < polls && status !== 'END_OF_INPUT'; k++) status = reader.pollNext(output);
  return status;
}

/** Polls every reader until all have ended; fails when they stop emitting without ending. */
async function drain<T>(readers: readonly SourceReader<T, SourceSplit>[], out: T[]): Promise<number> {
  const output = outputInto(out);
  const live = new Set(readers.keys());
  let polls = 0;
  let lastProgress = Date.now();
  while (live.size > 0) {
    const before = out.length;
    const waits: Promise<void>[] = [];
    for (const i of [...live]) {
      const reader = readers[i]!;
      for (let k = 0; k < 10_000; k++) {
        polls++;
        const status = reader.pollNext(output);
        if (status === 'END_OF_INPUT') live.delete(i);
        if (status === 'NOTHING_AVAILABLE') waits.push(reader.isAvailable());
        if (status !== 'MORE_AVAILABLE') break;
      }
    }
    if (out.length > before || live.size === 0) {
      lastProgress = Date.now();
      continue;
    }
    // Time rather than polls: a source doing I/O on a loaded machine may be slow, never stuck.
    if (Date.now() - lastProgress > 10_000) assert.fail(`readers ${[...live].join(', ')} neither emit nor end within 10 s (bounded source, notifyNoMoreSplits given)`);
    await Promise.race([...waits, delay(5)]);
  }
  return polls;
}

/** What differs between two multisets of keys, for a readable failure. */
function multisetDiff(got: readonly string[], expected: readonly string[]): string | undefined {
  const count = new Map<string, number>();
  for (const k of expected) count.set(k, (count.get(k) ?? 0) + 1);
  for (const k of got) count.set(k, (count.get(k) ?? 0) - 1);
  const missing: string[] = [];
  const extra: string[] = [];
  for (const [k, n] of count) {
    if (n > 0) missing.push(k);
    if (n < 0) extra.push(k);
  }
  if (missing.length === 0 && extra.length === 0) return undefined;
  const few = (xs: string[]): string => `${xs.length}${xs.length > 0 ? ` (e.g. ${xs.slice(0, 3).join(', ')})` : ''}`;
  return `${got.length} records read, ${expected.length} expected: missing ${few(missing)}, read too often ${few(extra)}`;
}

function firstRepeat(keys: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) return k;
    seen.add(k);
  }
  return undefined;
}

/** Snapshotted splits dealt to `parallelism` new readers as a restore deals them: the old subtasks' splits in order, round robin. */
function deal<S>(taken: readonly (readonly S[])[], parallelism: number): S[][] {
  const dealt: S[][] = Array.from({ length: parallelism }, () => []);
  let j = 0;
  for (const splits of taken) for (const s of splits) dealt[j++ % parallelism]!.push(s);
  return dealt;
}

export function sourceContract<T, S extends SourceSplit>(c: SourceContractCase<T, S>): void {
  const key = c.key ?? ((r: T): string => JSON.stringify(r));
  const keys = (xs: readonly T[]): string[] => xs.map(key);
  const json = c.jsonSnapshots ?? true;
  const bounded = c.create().getBoundedness() === 'BOUNDED';
  const copies = json ? (['as-is', 'structuredClone', 'json'] as const) : (['as-is', 'structuredClone'] as const);
  type Copy = (typeof copies)[number];
  const copy = <V>(v: V, how: Copy): V => (how === 'json' ? (JSON.parse(JSON.stringify(v)) as V) : how === 'structuredClone' ? structuredClone(v) : v);

  let expectedKeys: string[] | undefined;
  const expected = (): string[] => (expectedKeys ??= keys(c.expected!()));
  const checkExactlyOnce = (got: readonly T[], what: string): void => {
    const diff = multisetDiff(keys(got), expected());
    if (diff !== undefined) assert.fail(`${what}: ${diff}`);
  };

  /** Polls a full read takes at p = 1: random poll counts range up to a little beyond it. */
  let fullReadPolls: number | undefined;
  const maxPolls = async (): Promise<number> => {
    if (fullReadPolls === undefined) fullReadPolls = await drain(openReaders(c.create(), 1), []);
    return Math.ceil(fullReadPolls * 1.2) + 2;
  };

  /** Polls each reader its number of times, then snapshots; checks the snapshot is plain, unaliased data. */
  function pollAndSnapshot(readers: SourceReader<T, S>[], polls: readonly number[], extra: number, before: T[]): S[][] {
    for (const [i, r] of readers.entries()) pollTimes(r, polls[i] ?? 0, before);
    const taken = readers.map((r) => r.snapshotState(7));
    const frozen = structuredClone(taken);
    assert.deepEqual(frozen, taken, 'a snapshot survives structuredClone unchanged');
    if (json) assert.deepEqual(JSON.parse(JSON.stringify(taken)), taken, 'a snapshot survives JSON unchanged');
    for (const r of readers) pollTimes(r, extra, []);
    assert.deepEqual(taken, frozen, 'a snapshot does not change when its reader goes on reading');
    return taken;
  }

  const unboundedOnly = bounded ? 'the source is bounded: the exactly-once checks against its full input cover this' : false;
  const boundedOnly = bounded ? false : 'an unbounded input has no full multiset to compare against; a bounded configuration of the same source runs these checks';
  const dropReaders = async (readers: readonly SourceReader<T, S>[]): Promise<void> => {
    for (const r of readers) await r.close?.();
  };

  describe(`source contract: ${c.name}`, () => {
    it('createSplits is deterministic for p = 1..4 (again and on another instance), with unique ids and plain-data splits', () => {
      for (const p of PARALLELISMS) {
        const a = c.create().createSplits(p);
        const source = c.create();
        assert.deepEqual(source.createSplits(p), a, `p=${p}: the same splits on another instance`);
        assert.deepEqual(source.createSplits(p), a, `p=${p}: the same splits when asked again`);
        const ids = a.map((s) => s.splitId);
        assert.equal(new Set(ids).size, ids.length, `p=${p}: split ids are unique: ${ids.join(', ')}`);
        assert.deepEqual(structuredClone(a), a, `p=${p}: splits survive structuredClone`);
        if (json) assert.deepEqual(JSON.parse(JSON.stringify(a)), a, `p=${p}: splits survive JSON`);
      }
    });

    it('every record is read exactly once across the readers at p = 1..4', { skip: boundedOnly }, async () => {
      for (const p of PARALLELISMS) {
        const out: T[] = [];
        const readers = openReaders(c.create(), p);
        await drain(readers, out);
        checkExactlyOnce(out, `p=${p}`);
        await dropReaders(readers);
      }
    });

    it('rewind: fresh readers given a snapshot taken after random polls read exactly the rest', { skip: boundedOnly }, async () => {
      const max = await maxPolls();
      for (const seed of SEEDS) {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 4 }),
            fc.array(fc.nat({ max }), { minLength: 4, maxLength: 4 }),
            fc.nat({ max: 5 }),
            fc.constantFrom(...copies),
            async (p, polls, extra, how) => {
              const before: T[] = [];
              const old = openReaders(c.create(), p);
              const taken = pollAndSnapshot(old, polls, extra, before);
              await dropReaders(old);
              const after: T[] = [];
              const fresh = openReaders(c.create(), p, copy(taken, how));
              await drain(fresh, after);
              await dropReaders(fresh);
              checkExactlyOnce([...before, ...after], `p=${p}, polls ${polls.slice(0, p).join('/')}, restored ${how}`);
            },
          ),
          { seed, numRuns: RUNS_PER_SEED },
        );
      }
    });

    it("rescale: a snapshot taken at p, dealt to p' readers as a restore deals it, gives exactly the rest", { skip: boundedOnly }, async () => {
      const max = await maxPolls();
      for (const seed of SEEDS) {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 4 }),
            fc.integer({ min: 1, max: 4 }),
            fc.array(fc.nat({ max }), { minLength: 4, maxLength: 4 }),
            fc.constantFrom(...copies),
            async (p, p2, polls, how) => {
              const before: T[] = [];
              const old = openReaders(c.create(), p);
              const taken = pollAndSnapshot(old, polls, 0, before);
              await dropReaders(old);
              const dealt = deal(copy(taken, how), p2);
              const after: T[] = [];
              const fresh = openReaders(c.create(), p2, dealt);
              await drain(fresh, after);
              await dropReaders(fresh);
              checkExactlyOnce([...before, ...after], `p=${p} -> p'=${p2}, polls ${polls.slice(0, p).join('/')}`);
            },
          ),
          { seed, numRuns: RUNS_PER_SEED },
        );
      }
    });

    it('end of input: END_OF_INPUT only after notifyNoMoreSplits and once the splits are done, then for good', { skip: boundedOnly }, async () => {
      for (const p of PARALLELISMS) {
        const out: T[] = [];
        const readers = openReaders(c.create(), p, undefined, false);
        for (const [i, reader] of readers.entries()) {
          const output = outputInto(out);
          // Read until the reader has nothing and nothing comes within a few milliseconds.
          for (let polls = 0; ; polls++) {
            assert.ok(polls < 1_000_000, `p=${p}, reader ${i}: still emitting after a million polls`);
            const status = reader.pollNext(output);
            assert.notEqual(status, 'END_OF_INPUT', `p=${p}, reader ${i}: END_OF_INPUT before notifyNoMoreSplits`);
            if (status === 'NOTHING_AVAILABLE') {
              const woke = await Promise.race([reader.isAvailable().then(() => true), delay(c.idleMs ?? 20).then(() => false)]);
              if (!woke) break;
            }
          }
        }
        checkExactlyOnce(out, `p=${p}, read before notifyNoMoreSplits`);
        for (const [i, reader] of readers.entries()) {
          reader.notifyNoMoreSplits();
          const more: T[] = [];
          const statuses = Array.from({ length: 6 }, () => pollTimes(reader, 1, more));
          assert.deepEqual(more, [], `p=${p}, reader ${i}: nothing emitted after its splits were done`);
          assert.ok(statuses.slice(0, 2).includes('END_OF_INPUT'), `p=${p}, reader ${i}: END_OF_INPUT once there are no more splits (got ${statuses.join(', ')})`);
          const first = statuses.indexOf('END_OF_INPUT');
          assert.ok(
            statuses.slice(first).every((s) => s === 'END_OF_INPUT'),
            `p=${p}, reader ${i}: END_OF_INPUT for good (got ${statuses.join(', ')})`,
          );
        }
        await dropReaders(readers);
      }
    });

    it('in a job at p = 2 with checkpoints every 50 ms and a failure, the input is collected exactly once', { skip: boundedOnly }, async () => {
      const count = expected().length;
      // About 300 ms of records per subtask after the restart: several checkpoints, short enough for a test.
      const perMs = Math.max(1, Math.ceil(count / 2 / 300));
      const client = await startJob(JOB, { args: [c.module, c.exportName, JSON.stringify({ perMs, failAfter: 10 })], parallelism: 2 });
      const result = (await client.getJobExecutionResult()) as unknown as { collected: Map<string, unknown[]> };
      const got = [...result.collected.values()].flat() as string[];
      const diff = multisetDiff(got, expected());
      if (diff !== undefined) assert.fail(`collected: ${diff}`);
      assert.equal(await client.getNumRestarts(), 1, 'the injected failure restarted the job once');
      const stats = await client.getCheckpointStats();
      assert.equal(stats?.counts.restored, 1, 'the restart restored a checkpoint');
    });

    it('unbounded: no END_OF_INPUT within a poll budget at p = 1..4, even after notifyNoMoreSplits', { skip: unboundedOnly }, async () => {
      for (const p of PARALLELISMS) {
        const out: T[] = [];
        const readers = openReaders(c.create(), p);
        for (const [i, reader] of readers.entries()) {
          for (let k = 0; k < UNBOUNDED_POLLS; k++) {
            const status = reader.pollNext(outputInto(out));
            assert.notEqual(status, 'END_OF_INPUT', `p=${p}, reader ${i}: an unbounded source ended after ${k} polls`);
            if (status === 'NOTHING_AVAILABLE') await Promise.race([reader.isAvailable(), delay(1)]);
          }
        }
        if (c.distinctRecords) assert.equal(firstRepeat(keys(out)), undefined, `p=${p}: a record was read twice`);
        await dropReaders(readers);
      }
    });

    it("unbounded: rewind and rescale to p' repeat no record", { skip: unboundedOnly || (c.distinctRecords ? false : 'the records are not distinct, so a repeat cannot be told from the input') }, async () => {
      for (const seed of SEEDS) {
        await fc.assert(
          fc.asyncProperty(
            fc.integer({ min: 1, max: 4 }),
            fc.integer({ min: 1, max: 4 }),
            fc.array(fc.nat({ max: UNBOUNDED_POLLS / 5 }), { minLength: 4, maxLength: 4 }),
            fc.constantFrom(...copies),
            async (p, p2, polls, how) => {
              const before: T[] = [];
              const old = openReaders(c.create(), p);
              const taken = pollAndSnapshot(old, polls, 3, before);
              await dropReaders(old);
              const dealt = deal(copy(taken, how), p2);
              const after: T[] = [];
              const fresh = openReaders(c.create(), p2, dealt);
              for (const r of fresh) pollTimes(r, UNBOUNDED_POLLS / 5, after);
              await dropReaders(fresh);
              const repeat = firstRepeat(keys([...before, ...after]));
              assert.equal(repeat, undefined, `p=${p} -> p'=${p2}, polls ${polls.slice(0, p).join('/')}: ${repeat} read twice`);
            },
          ),
          { seed, numRuns: RUNS_PER_SEED },
        );
      }
    });
  });
}
