/**
 * The contract suite every Sink (api/sink.ts) opts into: real jobs write the strings
 * `record-0` … `record-<n-1>` into the sink at parallelism 1 (inline) and 2 (worker threads) with
 * checkpoints every 50 ms, with and without injected failures — an operator failure after some
 * records, a failure in the commit before and after the committer ran, a failure between a
 * checkpoint's snapshot and its completion — and what the external system shows afterwards must
 * be the input exactly once (EXACTLY_ONCE sinks) or at least once (AT_LEAST_ONCE sinks), with
 * nothing that was not in the input.
 *
 * The failure jobs run on an unbounded source that goes quiet after the last record, so a
 * failure can land anywhere: the suite waits until every record is visible, lets a few more
 * checkpoints complete (a repeated commit would show), cancels the job and reads the output.
 * Bounded runs check the end of input: without checkpointing everything is committed when the
 * input ends; with checkpointing, by the final checkpoint the job takes after the end of input
 * (FLIP-147), before it ends.
 *
 * How a sink opts in: export a SinkContractCase from a module (jobs import that module again in
 * every worker and attempt, so the case names its own module and export) and call
 * `sinkContract(theCase)` from a `*.test.ts` file.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isSink, type JobClient, type Sink, type SinkFunction } from 'weir';

import { JobProcess, runJob, startJob } from '../../src/testing/index.ts';
import type { SinkJobFault, SinkJobOptions } from './fixtures/sink-contract-job.ts';

export interface SinkContractCase<CommT = unknown> {
  readonly name: string;
  readonly guarantee: 'EXACTLY_ONCE' | 'AT_LEAST_ONCE';
  /** Absolute path of the module that exports this case, and the export's name. */
  readonly module: string;
  readonly exportName: string;
  /** A fresh, empty place in the external system for one job (a directory, a table, a stream); its address as a string. */
  createTarget(): Promise<string>;
  /**
   * The sink writing to `target`; called in every worker and attempt. A SinkFunction (the
   * `addSink` shape, e.g. a TwoPhaseCommitSinkFunction) is accepted too; commit faults are then
   * the case's own to test, since the suite injects them around a Committer.
   */
  createSink(target: string): Sink<string, CommT, unknown> | SinkFunction<string>;
  /** What the external system makes visible (committed) at `target`: one entry per visible record, in any order. */
  readVisible(target: string): Promise<string[]>;
  dropTarget?(target: string): Promise<void>;
}

export interface SinkContractOptions {
  /** Records per job (default 3000). */
  readonly records?: number;
  /** Records per millisecond per source subtask (default 4: a job lasts several checkpoints). */
  readonly perMs?: number;
  /** How long a job may take to make everything visible (default 30 s). */
  readonly timeoutMs?: number;
  /** The parallelisms to run the failure cases at (default [1, 2]: 1 inline, 2 on worker threads). */
  readonly parallelisms?: readonly number[];
  /**
   * How records reach the sink subtasks (default 'rebalance'). 'forward' keeps each sink subtask
   * fed by one source subtask in a deterministic order, which sinks that de-duplicate by
   * SinkWriterElementContext.recordId() need (see its contract).
   */
  readonly exchange?: 'rebalance' | 'forward';
  /**
   * The guarantee of the rescaled restores (default: the case's). A sink that de-duplicates by
   * SinkWriterElementContext.recordId() is exactly-once at the same parallelism only: a restore at
   * another one numbers records anew, so what followed the checkpoint is written again.
   */
  readonly rescaleGuarantee?: 'EXACTLY_ONCE' | 'AT_LEAST_ONCE';
  /**
   * The whole-process runs (SIGKILL and resume with `weir run -s`, stop with a savepoint and
   * resume), about 15 s per case; default true. A variant of a sink already run with them (the
   * same writer with another committer) may leave them out.
   */
  readonly processRuns?: boolean;
}

const JOB = fileURLToPath(new URL('./fixtures/sink-contract-job.ts', import.meta.url));
const INTERVAL = 50;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Whether a checkpoint under `dir` (a checkpoint base directory) completed: some chk-N holds
 * _metadata. The running job deletes subsumed checkpoints meanwhile, so a directory listed a
 * moment ago may be gone.
 */
export function hasCompletedCheckpoint(dir: string): boolean {
  const list = (path: string) => {
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  };
  for (const job of list(dir)) {
    if (!job.isDirectory()) continue;
    for (const chk of list(join(dir, job.name))) {
      if (chk.isDirectory() && /^chk-\d+$/.test(chk.name) && list(join(dir, job.name, chk.name)).some((f) => f.name === '_metadata')) return true;
    }
  }
  return false;
}

/** Missing, repeated and foreign records of `visible` against the input. */
function compare(visible: readonly string[], input: ReadonlySet<string>): { missing: string[]; repeated: string[]; foreign: string[] } {
  const seen = new Map<string, number>();
  for (const v of visible) seen.set(v, (seen.get(v) ?? 0) + 1);
  const missing = [...input].filter((r) => !seen.has(r));
  const repeated = [...seen].filter(([, n]) => n > 1).map(([r]) => r);
  const foreign = [...seen.keys()].filter((r) => !input.has(r));
  return { missing, repeated, foreign };
}

function summary(d: { missing: string[]; repeated: string[]; foreign: string[] }): string {
  const few = (xs: string[]): string => `${xs.length}${xs.length > 0 ? ` (e.g. ${xs.slice(0, 3).join(', ')})` : ''}`;
  return `missing ${few(d.missing)}, repeated ${few(d.repeated)}, not in the input ${few(d.foreign)}`;
}

/** One run of the contract job for runSinkJobUntilVisible. */
export interface SinkJobRun {
  readonly parallelism: number;
  readonly count: number;
  /** Records per millisecond per source subtask (default 4). */
  readonly perMs?: number;
  readonly faults?: readonly SinkJobFault[];
  /** How long every record may take to become visible (default 30 s). */
  readonly timeoutMs?: number;
  readonly exchange?: 'rebalance' | 'forward';
  /** A checkpoint to start from. */
  readonly restoreFrom?: string | undefined;
}

/**
 * Runs the contract job (unbounded, checkpoints every 50 ms; p=1 inline, otherwise on worker
 * threads) writing `record-0` … into the case's sink at `target` until every record is visible,
 * lets a few more checkpoints complete (a committable committed twice would show then), cancels
 * the job and returns what is visible, with the restarts. Fails when the job ends by itself or
 * the records do not all show within the timeout. For sink tests with failures of their own too.
 */
export async function runSinkJobUntilVisible(c: SinkContractCase<unknown>, target: string, run: SinkJobRun): Promise<{ visible: string[]; restarts: number }> {
  const input = new Set(Array.from({ length: run.count }, (_, n) => `record-${n}`));
  const timeoutMs = run.timeoutMs ?? 30_000;
  const options: SinkJobOptions = { count: run.count, perMs: run.perMs ?? 4, bounded: false, interval: INTERVAL, faults: run.faults ?? [], exchange: run.exchange ?? 'rebalance' };
  const client: JobClient = await startJob(JOB, {
    args: [c.module, c.exportName, target, JSON.stringify(options)],
    parallelism: run.parallelism,
    mode: run.parallelism === 1 ? 'inline' : 'threads',
    ...(run.restoreFrom === undefined ? {} : { config: { 'execution.savepoint.path': run.restoreFrom } }),
  });
  const ended = client.getJobExecutionResult().then(
    () => new Error('the unbounded job ended by itself'),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const visible = await c.readVisible(target);
      if (compare(visible, input).missing.length === 0) break;
      if (Date.now() > deadline) assert.fail(`after ${timeoutMs} ms: ${summary(compare(visible, input))} among ${visible.length} visible records`);
      const error = await Promise.race([ended, delay(25).then(() => undefined)]);
      if (error !== undefined) throw error;
    }
    // A few more checkpoints complete: a committable committed twice would show now.
    await delay(4 * INTERVAL);
    const error = await Promise.race([ended, delay(0).then(() => undefined)]);
    if (error !== undefined) throw error;
  } finally {
    await client.cancel().catch(() => {});
    await ended;
  }
  return { visible: await c.readVisible(target), restarts: await client.getNumRestarts() };
}

export function sinkContract(c: SinkContractCase<unknown>, o: SinkContractOptions = {}): void {
  const count = o.records ?? 3000;
  const perMs = o.perMs ?? 4;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const input = new Set(Array.from({ length: count }, (_, n) => `record-${n}`));
  const exactlyOnce = c.guarantee === 'EXACTLY_ONCE';

  const exchange = o.exchange ?? 'rebalance';
  const args = (target: string, options: Omit<SinkJobOptions, 'exchange'>): string[] => [c.module, c.exportName, target, JSON.stringify({ ...options, exchange })];

  /** Asserts the guarantee on what is visible (`exactly`: exactly once, else at least once). */
  function check(visible: readonly string[], what: string, exactly = exactlyOnce): void {
    const d = compare(visible, input);
    const ok = d.missing.length === 0 && d.foreign.length === 0 && (!exactly || d.repeated.length === 0);
    assert.ok(ok, `${what}: ${summary(d)} among ${visible.length} visible records of ${count}`);
    if (exactly) assert.equal(visible.length, count, what);
  }

  /**
   * Runs the unbounded job until every record is visible (see runSinkJobUntilVisible), in a fresh
   * target, or with `restoreFrom` from that checkpoint in its target; drops the target afterwards.
   */
  async function runUntilVisible(
    p: number,
    faults: readonly SinkJobFault[],
    restoreFrom?: { readonly checkpoint: string; readonly target: string },
  ): Promise<{ visible: string[]; restarts: number }> {
    const target = restoreFrom?.target ?? (await c.createTarget());
    try {
      return await runSinkJobUntilVisible(c, target, { parallelism: p, count, perMs, faults, timeoutMs, exchange, restoreFrom: restoreFrom?.checkpoint });
    } finally {
      await c.dropTarget?.(target);
    }
  }

  /** Whether the sink makes committers (asked of a sink on a throwaway target). */
  async function hasCommitter(): Promise<boolean> {
    const target = await c.createTarget();
    try {
      const sink = c.createSink(target);
      return isSink(sink) && typeof sink.createCommitter === 'function';
    } finally {
      await c.dropTarget?.(target);
    }
  }

  const guarantee = exactlyOnce ? 'exactly once' : 'at least once';
  describe(`sink contract: ${c.name} (${c.guarantee})`, () => {
    for (const p of o.parallelisms ?? [1, 2]) {
      const where = `p=${p}${p === 1 ? ' inline' : ' on worker threads'}`;
      it(`${where}: with checkpoints and no failure, every record becomes visible ${guarantee}`, async () => {
        const { visible } = await runUntilVisible(p, []);
        check(visible, 'no failure');
      });

      const faultCases: [string, SinkJobFault][] = [
        ['an operator failure after some records', { at: 'operator', attempt: 0, after: Math.floor(count / (4 * p)) }],
        ['a failure in the commit before the committer ran', { at: 'commit-before', attempt: 0 }],
        ['a failure in the commit after the committer committed (the restore commits the same committables again)', { at: 'commit-after', attempt: 0 }],
        ['a failure between the snapshot of a checkpoint and its completion', { at: 'snapshot', attempt: 0, after: 3 }],
      ];
      for (const [what, fault] of faultCases) {
        it(`${where}: after ${what}, every record is visible ${guarantee}`, async (t) => {
          if (fault.at.startsWith('commit') && !(await hasCommitter())) {
            t.skip('the sink has no committer, so there is no commit to fail');
            return;
          }
          const { visible, restarts } = await runUntilVisible(p, [fault]);
          assert.ok(restarts >= 1, `the injected ${fault.at} failure restarted the job (restarts: ${restarts})`);
          check(visible, what);
        });
      }
    }

    for (const [from, to] of [
      [2, 1],
      [1, 2],
    ] as const) {
      const rescaleExactly = (o.rescaleGuarantee ?? c.guarantee) === 'EXACTLY_ONCE';
      it(`rescale: restored at p=${to} from a checkpoint taken at p=${from} by hand, every record is visible ${rescaleExactly ? 'exactly once' : 'at least once'}`, async () => {
        const target = await c.createTarget();
        const dir = mkdtempSync(join(tmpdir(), 'weir-sink-contract-'));
        try {
          // No periodic checkpoints: the one taken by hand is the last whose committables commit.
          const first = await startJob(JOB, {
            args: args(target, { count, perMs, bounded: false, interval: 600_000, faults: [], dir, retain: true }),
            parallelism: from,
            mode: 'inline',
          });
          const ended = first.getJobExecutionResult().catch(() => undefined);
          await delay(250);
          const checkpoint = await first.triggerCheckpoint();
          // The checkpoint's committables commit on its completion, which may or may not have
          // happened before the cancel: the restore must give the same output either way.
          await first.cancel();
          await ended;
          const before = compare(await c.readVisible(target), input);
          assert.ok(before.missing.length > 0, 'the first run stopped before the end of the input');
          // The restore commits the checkpoint's committables again (already committed, or not yet).
          const { visible } = await runUntilVisible(to, [], { checkpoint, target });
          check(visible, `restored at p=${to} from p=${from}`, rescaleExactly);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    const processRuns = o.processRuns ?? true;
    it(`stop with a savepoint, then resume from it: nothing becomes visible after the stop returned, and the resumed job adds the rest, ${guarantee}`, { skip: processRuns ? false : 'left out (processRuns: false)' }, async () => {
      const target = await c.createTarget();
      const dir = mkdtempSync(join(tmpdir(), 'weir-sink-contract-stop-'));
      try {
        const client = await startJob(JOB, {
          args: args(target, { count, perMs: 1, bounded: false, interval: INTERVAL, faults: [], dir }),
          parallelism: 2,
          mode: 'threads',
        });
        const ended = client.getJobExecutionResult().catch(() => undefined);
        const deadline = Date.now() + timeoutMs;
        while ((await c.readVisible(target)).length < count / 10) {
          assert.ok(Date.now() < deadline, 'a tenth of the records became visible');
          await delay(25);
        }
        const savepoint = await client.stopWithSavepoint(join(dir, 'savepoints'));
        await ended;
        const visibleAtStop = await c.readVisible(target);
        const atStop = compare(visibleAtStop, input);
        assert.ok(atStop.missing.length > 0, 'the job stopped before the end of the input');
        if (exactlyOnce) assert.deepEqual(atStop.repeated, [], 'nothing visible twice at the stop');
        // The stopped job is gone: nothing of it may become visible later.
        await delay(2 * INTERVAL);
        assert.equal((await c.readVisible(target)).length, visibleAtStop.length, 'nothing more became visible after the stop');
        const { visible } = await runUntilVisible(2, [], { checkpoint: savepoint, target });
        check(visible, 'resumed from the stopping savepoint');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`the whole process killed with SIGKILL mid-job, then resumed with \`weir run -s <checkpoint dir>\` from the newest complete checkpoint: every record visible ${guarantee}`, { skip: processRuns ? false : 'left out (processRuns: false)' }, async () => {
      const target = await c.createTarget();
      const dir = mkdtempSync(join(tmpdir(), 'weir-sink-contract-kill-'));
      try {
        // Bounded and paced so that the killed job lasts a few seconds; the resumed run ends by
        // itself after its final checkpoint, and the process exits. The resumed run reads the rest
        // at the suite's rate: its source resumes from the positions in the checkpoint, whatever
        // the pace, and waiting at the killed run's pace would prove nothing more.
        const options = { count, perMs: 0.5, bounded: true, interval: INTERVAL, faults: [], dir, retain: true };
        const first = JobProcess.start(JOB, { args: args(target, options), parallelism: 2 });
        try {
          await first.waitFor(
            async () => hasCompletedCheckpoint(dir) && (await c.readVisible(target)).length >= count / 4,
            'a checkpoint completed and a quarter of the records were visible',
            timeoutMs,
          );
        } finally {
          await first.kill('SIGKILL');
        }
        const before = compare(await c.readVisible(target), input);
        assert.ok(before.missing.length > 0, 'the process was killed before the end of the input');
        const second = JobProcess.start(JOB, { args: args(target, { ...options, perMs }), parallelism: 2, fromSavepoint: dir });
        const exit = await second.succeeded(timeoutMs);
        assert.match(exit.stderr, /restoring from .*chk-\d+/, 'the resumed run says which checkpoint it restored');
        check(await c.readVisible(target), 'killed with SIGKILL and resumed');
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await c.dropTarget?.(target);
      }
    });

    it(`bounded, without checkpointing: everything is committed at the end of input, ${guarantee}`, async () => {
      const target = await c.createTarget();
      try {
        await runJob(JOB, { args: args(target, { count, perMs: Infinity, bounded: true, interval: null, faults: [] }), parallelism: 2, mode: 'inline' });
        check(await c.readVisible(target), 'bounded without checkpointing');
      } finally {
        await c.dropTarget?.(target);
      }
    });

    it(`bounded, with checkpointing: the final checkpoint after the end of input commits the rest before the job ends, ${guarantee}`, async () => {
      const target = await c.createTarget();
      try {
        await runJob(JOB, { args: args(target, { count, perMs, bounded: true, interval: INTERVAL, faults: [] }), parallelism: 2, mode: 'inline' });
        check(await c.readVisible(target), 'bounded with checkpointing');
      } finally {
        await c.dropTarget?.(target);
      }
    });

    it(`bounded, with checkpointing and an interval longer than the job: the final checkpoint is taken at once when the input ends, ${guarantee}`, async () => {
      const target = await c.createTarget();
      try {
        const started = Date.now();
        await runJob(JOB, { args: args(target, { count, perMs: Infinity, bounded: true, interval: 600_000, faults: [] }), parallelism: 2, mode: 'threads' });
        check(await c.readVisible(target), 'bounded with a long checkpoint interval');
        assert.ok(Date.now() - started < 60_000, 'the job did not wait for the periodic trigger');
      } finally {
        await c.dropTarget?.(target);
      }
    });
  });
}
