/**
 * Timers firing on the RocksDB backend: one event-time timer per key, far more keys than the
 * state cache holds, the job of rocksdb-timers-job.ts run inline (one subtask), timed from the
 * first timer to the last, with the backend's synchronous reads (cache misses) and entries read
 * ahead counted. For A/B figures, run the same script in a checkout of the commit before the
 * change (a git worktree) and this one, alternately.
 *
 *   node bin/node-ts.mjs bench/rocksdb-timers.ts [keys=200000] [cache=8mb] [mode=end|spread] [runs=1] [delay=1000]
 *
 * spread: key x's timer at x + delay, so with a delay beyond what the cache holds a key's state
 * is evicted before its timer fires; end: all timers at the end of input.
 *
 * Prints one JSON line per run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RocksDBKeyedStateBackend } from '../src/state/rocksdb/rocksdb-keyed-state-backend.ts';
import { startJob } from '../src/testing/index.ts';
import type { TimerFigures } from './rocksdb-timers-job.ts';

const [keysArg = '200000', cache = '8mb', mode = 'end', runsArg = '1', delayArg = '1000'] = process.argv.slice(2);
const keys = Number(keysArg);
if (mode !== 'end' && mode !== 'spread') throw new RangeError(`mode must be end or spread, got ${mode}`);

// The backend's counters, read as it is disposed (measuring only: the engine is unchanged).
const counted = { misses: 0, prefetched: 0 };
const proto = RocksDBKeyedStateBackend.prototype;
const dispose = proto.dispose;
proto.dispose = function (this: RocksDBKeyedStateBackend): void {
  counted.misses += this.cacheMisses;
  counted.prefetched += this.prefetched;
  dispose.call(this);
};

const job = new URL('./rocksdb-timers-job.ts', import.meta.url).pathname;
for (let run = 0; run < Number(runsArg); run++) {
  const localDir = mkdtempSync(join(tmpdir(), 'weir-bench-timers-'));
  counted.misses = 0;
  counted.prefetched = 0;
  try {
    const load = loadavg()[0]!;
    const t0 = performance.now();
    const client = await startJob(job, {
      args: [JSON.stringify({ keys, mode, delay: Number(delayArg) })],
      parallelism: 1,
      mode: 'inline',
      config: { 'state.backend.type': 'rocksdb', 'state.backend.rocksdb.localdir': localDir, 'state.backend.rocksdb.memory.fixed-per-slot': cache },
    });
    await client.getJobExecutionResult();
    const jobMs = performance.now() - t0;
    const f = (globalThis as { __rocksdbTimers?: TimerFigures }).__rocksdbTimers!;
    if (f.fired !== keys || f.sum !== keys) throw new Error(`fired ${f.fired} timers reading ${f.sum}, expected ${keys}`);
    const firingMs = f.last - f.first;
    console.log(
      JSON.stringify({
        keys,
        cache,
        mode,
        delay: mode === 'spread' ? Number(delayArg) : undefined,
        jobMs: Math.round(jobMs),
        firingMs: Math.round(firingMs),
        timersPerS: mode === 'end' ? Math.round(keys / (firingMs / 1000)) : undefined,
        misses: counted.misses,
        prefetched: counted.prefetched,
        load1: Number(load.toFixed(2)),
      }),
    );
  } finally {
    rmSync(localDir, { recursive: true, force: true });
  }
}
process.exit(0);
