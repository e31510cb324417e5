/** How many slot workers `weir run` expects a job to need (early-workers.ts, run-job.ts). */
import { availableParallelism } from 'node:os';

/**
 * How many slot workers a job run with `overrides` is likely to need: its default parallelism as
 * the command line sets it, else as a job that sets none gets it (one per core). A job whose code
 * sets another parallelism needs more workers, started then, or fewer, and the rest stop.
 */
export function expectedSlots(overrides: Record<string, unknown>): number {
  const p = Number(overrides['parallelism.default']);
  return Number.isInteger(p) && p > 0 ? Math.min(p, availableParallelism()) : availableParallelism();
}
