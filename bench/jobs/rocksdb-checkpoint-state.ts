/**
 * checkpoint-state.ts (the checkpoint-pause job) with the RocksDB requests of each thread that
 * runs it timed, so that a long pause can be told apart: a synchronous read or a prefetch that
 * waited in the I/O thread behind other requests (and how long it ran there), or time spent on
 * the task thread itself. Measuring code only: the engine is unchanged.
 *
 * Every request whose answer took at least WAIT_MS after it was posted is kept; told 'report' on
 * the run's command channel (as checkpoint-state.ts is), the thread posts them on the run's
 * report channel as `{ type: 'rocksdb-waits', waits }`, waits being [posted at (absolute ms),
 * total ms, queued ms, run ms, op, how, ms until the I/O thread took it up].
 *
 *   weir run bench/jobs/rocksdb-checkpoint-state.ts <the arguments of checkpoint-state.ts>
 */
import { observeRocksDBRequests } from '../../src/state/rocksdb/rocksdb-bridge.ts';
import { commandChannel, parseStateJobArgs } from './checkpoint-common.ts';
import { reportChannel } from './checkpoint-common.ts';

const WAIT_MS = 1;
const MAX_WAITS = 200_000;

export interface RocksDBWaitsReport {
  readonly type: 'rocksdb-waits';
  readonly waits: (number | string)[][];
}

const { runId } = parseStateJobArgs(process.argv.slice(2));
const waits: (number | string)[][] = [];
observeRocksDBRequests((t) => {
  const total = t.answeredAt - t.postedAt;
  if (total >= WAIT_MS && waits.length < MAX_WAITS) waits.push([performance.timeOrigin + t.postedAt, total, t.queuedMs, t.runMs, t.op, t.how, t.arrivalMs]);
});
const commands = commandChannel(runId);
commands.onmessage = (event) => {
  if ((event as { data: { type: string } }).data.type !== 'report' || waits.length === 0) return;
  const channel = reportChannel(runId);
  channel.postMessage({ type: 'rocksdb-waits', waits: waits.slice() } satisfies RocksDBWaitsReport);
  channel.close();
};
(commands as unknown as { unref?: () => void }).unref?.();

// The job itself, as a module instance of this run's own: startJob gives each run of this file a
// URL of its own (a query), and the job module must be evaluated anew with it. Imported without
// the query, a second run in the same process would get the first run's module back, already
// evaluated (no job started) and, once that job was cancelled, rejected with its outcome.
await import(new URL(`./checkpoint-state.ts${new URL(import.meta.url).search}`, import.meta.url).href);
