/**
 * The TaskManagers as Flink's REST API describes them (GET /taskmanagers, GET
 * /taskmanagers/:taskmanagerid).
 *
 * A weir cluster's slots belong to one TaskManager: the worker threads of the process that
 * serves the REST API, or the TaskManager process `weir start-cluster` starts beside it on the
 * same machine. The hardware figures are the machine's (node:os), the memory figures the serving
 * process's; weir has no managed memory, no data port of its own (channels between tasks are
 * message ports) and no heartbeats between threads, so those read 0, -1 and "now".
 */
import { availableParallelism, freemem, hostname, totalmem } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import { isTerminalJobStatus } from '../../api/job-status.ts';
import type { JobInfo } from '../../cluster/dispatcher.ts';
import type { TaskManagerDetailsInfo, TaskManagerInfo } from '../rest-types.ts';
import { TASK_MANAGER_ID } from '../../runtime/slot.ts';

/** The id of the cluster's one TaskManager, the one its tasks carry as `<tm_id>` in their metrics. */
export { TASK_MANAGER_ID };

export function taskManagerInfo(o: { slots: number; freeSlots: number }): TaskManagerInfo {
  return {
    id: TASK_MANAGER_ID,
    path: `weir://${hostname()}/taskmanager-1`,
    dataPort: -1,
    jmxPort: -1,
    timeSinceLastHeartbeat: Date.now(),
    slotsNumber: o.slots,
    freeSlots: o.freeSlots,
    hardware: { cpuCores: availableParallelism(), physicalMemory: totalmem(), freeMemory: freemem(), managedMemory: 0 },
    blocked: false,
  };
}

/** The TaskManager with its memory figures and the slots jobs hold, one entry per slot, numbered from 0. */
export function taskManagerDetails(o: { slots: number; freeSlots: number; jobs: readonly JobInfo[] }): TaskManagerDetailsInfo {
  const m = process.memoryUsage();
  const allocatedSlots: TaskManagerDetailsInfo['allocatedSlots'] = [];
  for (const j of o.jobs) {
    if (isTerminalJobStatus(j.status)) continue;
    for (let i = 0; i < j.slots; i++) allocatedSlots.push({ index: allocatedSlots.length, jobId: j.id });
  }
  return {
    ...taskManagerInfo(o),
    allocatedSlots,
    metrics: {
      heapUsed: m.heapUsed,
      heapCommitted: m.heapTotal,
      heapMax: getHeapStatistics().heap_size_limit,
      nonHeapUsed: m.external,
      nonHeapCommitted: m.external,
      nonHeapMax: -1,
      directCount: -1,
      directUsed: m.arrayBuffers,
      directMax: -1,
      mappedCount: -1,
      mappedUsed: -1,
      mappedMax: -1,
      memorySegmentsAvailable: -1,
      memorySegmentsTotal: -1,
      garbageCollectors: [],
    },
  };
}
