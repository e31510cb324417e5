/**
 * The machine's own parallel speed-up for the user-keyed work: the plain loop run on `threads`
 * worker threads at once, each over n / threads records and keys / threads keys (a perfectly
 * partitioned job with no exchange at all), against the same loop on one worker thread over
 * n records and all keys. Both are timed from the moment every thread has loaded and is told to
 * start until the last one finishes, so thread start-up is not counted.
 *
 * weir's p=2 / p=1 can be no better than this ratio: on a machine whose two cores share caches
 * and memory bandwidth, or are two hyperthreads of one core, a loop over a large Map gains far
 * less than 2× from a second thread, whatever the engine does.
 */
import { Worker } from 'node:worker_threads';
import type { RecordKind } from './jobs/user-keyed-common.ts';
import type { UserKeyedTotals } from './user-keyed-plain.ts';

const WORKER = new URL('./plain-thread-worker.mjs', import.meta.url);

/** Wall time (ms) of the plain loop split over `threads` threads; checks every thread counted its records. */
export async function plainOnThreads(kind: RecordKind, keys: number, n: number, threads: number): Promise<number> {
  const each = Math.floor(n / threads);
  const perThreadKeys = Math.max(1, Math.floor(keys / threads));
  const workers = Array.from({ length: threads }, () => new Worker(WORKER, { workerData: { kind, keys: perThreadKeys, n: each } }));
  try {
    const ready = workers.map((w) => once(w, (m) => m === 'ready'));
    await Promise.all(ready);
    const done = workers.map((w) => once(w, (m) => typeof m === 'object' && m !== null));
    const t0 = performance.now();
    for (const w of workers) w.postMessage('go');
    const totals = (await Promise.all(done)) as UserKeyedTotals[];
    const ms = performance.now() - t0;
    for (const t of totals) {
      if (t.records !== each) throw new Error(`plain loop on ${threads} threads: a thread accounted for ${t.records} records, expected ${each}`);
    }
    return ms;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

function once(w: Worker, match: (m: unknown) => boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      if (!match(m)) return;
      w.off('message', onMessage);
      resolve(m);
    };
    w.on('message', onMessage);
    w.once('error', reject);
  });
}
