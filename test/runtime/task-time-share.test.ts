/**
 * busyTimeMsPerSecond, backPressuredTimeMsPerSecond and idleTimeMsPerSecond: the arithmetic on
 * an injected clock, and the figures of a running job whose slow map back-pressures its source.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { localJobOf } from '../../src/runtime/local-job.ts';
import { TaskTimeShare } from '../../src/runtime/metrics/task-time-share.ts';
import { startJob } from '../../src/testing/index.ts';

describe('task time share', () => {
  it('turns running totals into ms per second over windows of at least a second', () => {
    let now = 0;
    let busy = 0;
    let blocked = 0;
    const share = new TaskTimeShare({ busyMs: () => busy, backPressuredMs: () => blocked }, () => now);
    now = 500;
    busy = 100;
    blocked = 250;
    assert.deepEqual(share.current(), { busy: 200, backPressured: 500, idle: 300 }, 'before the first window ends: the time so far');
    now = 1000;
    busy = 300;
    blocked = 500;
    assert.deepEqual(share.current(), { busy: 300, backPressured: 500, idle: 200 });
    now = 1500;
    busy = 1000;
    assert.deepEqual(share.current(), { busy: 300, backPressured: 500, idle: 200 }, 'within a window the last full one holds');
    now = 2000;
    busy = 1300;
    assert.deepEqual(share.current(), { busy: 1000, backPressured: 0, idle: 0 });
  });

  it('a slow map is busy and its source back-pressured, in a running job (threads)', async (t) => {
    const client = await startJob('test/runtime/jobs/busy-map.ts', { parallelism: 1, mode: 'threads' });
    try {
      const job = localJobOf(client)!;
      await sleep(2500);
      job.requestMetrics();
      await sleep(200);
      const value = (task: string, name: string): number => {
        const m = job
          .getMetrics()
          .filter((s) => s.taskName.startsWith(task))
          .flatMap((s) => s.metrics)
          .find((x) => x.name === name);
        assert.ok(m !== undefined && m.value.kind === 'gauge', `${task}: ${name} is reported`);
        return Number(m.value.kind === 'gauge' ? m.value.value : Number.NaN);
      };
      const source = { busy: value('numbers', 'busyTimeMsPerSecond'), bp: value('numbers', 'backPressuredTimeMsPerSecond'), idle: value('numbers', 'idleTimeMsPerSecond') };
      const map = { busy: value('slow map', 'busyTimeMsPerSecond'), bp: value('slow map', 'backPressuredTimeMsPerSecond'), idle: value('slow map', 'idleTimeMsPerSecond') };
      t.diagnostic(`ms per second: source ${JSON.stringify(source)}, slow map ${JSON.stringify(map)}`);
      assert.ok(source.bp > 500, `the source waits for credit most of the time: ${JSON.stringify(source)}`);
      assert.ok(map.busy > 500, `the slow map is busy most of the time: ${JSON.stringify(map)}`);
      for (const x of [source, map]) assert.ok(Math.abs(x.busy + x.bp + x.idle - 1000) <= 1, `the shares add up to a second: ${JSON.stringify(x)}`);
      // The checkpoint statistics keep the figures each subtask had when it took its snapshot.
      const stats = (await client.getCheckpointStats())!;
      const completed = stats.history.find((h) => h.status === 'COMPLETED');
      assert.ok(completed !== undefined, `a checkpoint completed: ${JSON.stringify(stats.counts)}`);
      const subtasks = Object.values(completed.subtasks);
      t.diagnostic(`checkpoint ${completed.id}: ${JSON.stringify(subtasks.map((s) => [s.busy_time_ms_per_second, s.back_pressured_time_ms_per_second]))}`);
      assert.ok(subtasks.some((s) => s.back_pressured_time_ms_per_second > 500), 'the source was back-pressured when it took its snapshot');
      assert.ok(subtasks.some((s) => s.busy_time_ms_per_second > 500), 'the slow map was busy when it took its snapshot');
    } finally {
      await client.cancel();
      await client.getJobExecutionResult().catch(() => {});
    }
  });
});
