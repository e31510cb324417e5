/**
 * user-keyed-checkpoints: the user-keyed jobs (user-keyed.ts) with exactly-once checkpoints every
 * second against the same jobs with checkpointing off, measured interleaved (off and on in every
 * round), at parallelism 1: threads mode (quick and full) and inline (full). N is chosen so that
 * a run processes for about 1.5 s (quick) or 5 s (full) on the development machine; a run with no
 * completed checkpoint is an error, and checkpoints that failed for a reason other than the end
 * of the input are listed.
 *
 * "with/without" is the rate with checkpoints over the rate without (medians of the runs); the
 * figures also hold the median of the per-round ratios.
 */
import { formatRate, median, type Benchmark, type DetailRow, type Mode } from './harness.ts';
import type { RecordKind } from './jobs/user-keyed-common.ts';
import {
  cpuMicrosPerRecord,
  formatCount,
  formatKeys,
  KEY_COUNTS,
  KINDS,
  measureUserKeyed,
  plainRecordsPerSec,
  recordsPerSec,
  type UserKeyedConfig,
  type UserKeyedFigures,
} from './user-keyed.ts';

const INTERVAL_MS = 1000;

/** Records per run: about 1.5 s (quick) or 5 s (full) of processing at p=1. */
function checkpointRecords(kind: RecordKind, keys: number, quick: boolean): number {
  // Development machine, threads p=1: about 4 M rec/s at 100 keys, 250 k (numbers) and 200 k (events) at 1M keys.
  const perSecond = keys <= 1000 ? 4_000_000 : kind === 'numbers' ? 250_000 : 200_000;
  return perSecond * (quick ? 1.5 : 5);
}

const TABLE =
  'user-keyed-checkpoints: the user-keyed jobs with exactly-once checkpoints every 1 s against checkpointing off, p=1, measured interleaved ' +
  '(rates: N / median wall time of execute(); checkpoints: completed per run; end-to-end: median over the runs\' completed checkpoints)';

function rows(all: readonly UserKeyedFigures[], runs: number): DetailRow[] {
  return all
    .filter((f) => f.config.intervalMs > 0)
    .map((on): DetailRow => {
      const c = on.config;
      const off = all.find((b) => b.config.kind === c.kind && b.config.keys === c.keys && b.config.mode === c.mode && b.config.intervalMs === 0)!;
      const ratio = recordsPerSec(on) / recordsPerSec(off);
      const paired = median(off.wallMs.map((w, r) => w / on.wallMs[r]!));
      const failures = on.checkpointFailures.flat();
      return {
        kind: 'detail',
        benchmark: 'user-keyed-checkpoints',
        table: TABLE,
        mode: c.mode,
        parallelism: c.parallelism,
        runs,
        cells: {
          records: c.kind,
          keys: formatKeys(c.keys),
          mode: c.mode,
          p: String(c.parallelism),
          N: formatCount(c.n),
          'rec/s without': formatRate(recordsPerSec(off)),
          'rec/s with': formatRate(recordsPerSec(on)),
          'with/without': `${ratio.toFixed(3)} (paired ${paired.toFixed(3)})`,
          cost: `${((1 - ratio) * 100).toFixed(1)} %`,
          'CPU µs/record without / with': `${cpuMicrosPerRecord(off).toFixed(2)} / ${cpuMicrosPerRecord(on).toFixed(2)}`,
          'with/plain': (recordsPerSec(on) / plainRecordsPerSec(on)).toFixed(3),
          checkpoints: on.checkpointsCompleted.join(', '),
          'end-to-end': `${median(on.checkpointEndToEndMs.flat()).toFixed(0)} ms`,
          'failed checkpoints': failures.length === 0 ? '0' : `${failures.length}: ${[...new Set(failures.map((m) => m.replace(/^checkpoint \d+: /, '').replace(/\d+/g, 'n')))].join('; ')}`,
          'peak RSS without / with': `${(off.peakRssBytes / 2 ** 20).toFixed(0)} / ${(on.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
        },
        figures: {
          ...c,
          wallMsWithout: off.wallMs,
          wallMsWith: on.wallMs,
          cpuMsWithout: off.cpuMs,
          cpuMsWith: on.cpuMs,
          plainMs: on.plainMs,
          checkpointsCompleted: on.checkpointsCompleted,
          checkpointEndToEndMs: on.checkpointEndToEndMs,
          checkpointFailures: on.checkpointFailures,
          ratio,
          pairedRatio: paired,
          peakRssBytesWithout: off.peakRssBytes,
          peakRssBytesWith: on.peakRssBytes,
        },
      };
    });
}

export const userKeyedCheckpoints: Benchmark = {
  name: 'user-keyed-checkpoints',
  summary: 'user-keyed jobs with exactly-once checkpoints every 1 s vs off, p=1 (threads; inline too in full runs)',
  execArgv: () => ['--max-old-space-size=4096'],
  async run(options) {
    const modes: readonly Mode[] = options.quick ? ['threads'] : ['inline', 'threads'];
    const groups = KINDS.flatMap((kind) =>
      KEY_COUNTS.map((keys) => {
        const n = checkpointRecords(kind, keys, options.quick);
        return modes.flatMap((mode) =>
          [0, INTERVAL_MS].map((intervalMs): UserKeyedConfig => ({ kind, keys, n, mode, parallelism: 1, intervalMs })),
        );
      }),
    );
    return rows(await measureUserKeyed('user-keyed-checkpoints', groups, options), options.runs);
  },
};
