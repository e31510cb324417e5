/**
 * A slot worker: re-imports the job module so the pipeline (with its closures) is built again
 * on this thread, checks that the graph equals the launcher's, then hosts subtask `slot` of
 * every vertex. The job module's `execute()` call is captured here instead of starting a job.
 *
 * Started by worker-bootstrap.mjs, which loads this module (from the engine bundle or from
 * source) and calls runWorker() once.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { executionRegistry } from '../../api/execution-context.ts';
import { serializeError } from '../error-transport.ts';
import { rebuildPipeline } from '../pipeline-rebuild.ts';
import { assertNever } from '../../core/errors.ts';
import { Slot } from '../slot.ts';
import { processWideNow, systemScheduler } from '../../core/time.ts';
import { slotEventToWire, type FromWorker, type StartupMark, type ToWorker, type WorkerData } from './protocol.ts';

/**
 * Runs this worker's slot. `startup` holds the start-up phases so far; the phases of the job's
 * rebuild and deployment are added, and all of them go to the launcher with 'ready'. `data` is
 * the slot's WorkerData: the thread's workerData, or for a worker pre-started ahead of its job,
 * what its first message assigned.
 */
export function runWorker(startup: StartupMark[], data: WorkerData = workerData as WorkerData): void {
  const port = parentPort!;
  const send = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  const mark = (phase: string) => startup.push([phase, processWideNow()]);

  const registry = executionRegistry();
  registry.overrides = data.overrides;
  registry.jobModule = data.jobModule;

  function fail(error: unknown, task = 'job module'): void {
    send({ type: 'failed', error: serializeError(error), task });
  }

  async function main(): Promise<void> {
    const { pipeline, graph } = await rebuildPipeline(data.jobModule, data, `worker ${data.slot}`, mark);
    const ports = new Map(Object.entries(data.ports));
    const slot = new Slot({
      jobId: data.jobId,
      graph,
      config: pipeline.config,
      scheduler: systemScheduler,
      attemptNumber: data.attemptNumber,
      hosts: (i) => i === data.slot,
      ports,
      checkpointing: data.checkpointing,
      restores: data.restores,
      report: (e) => {
        const { message, transfer } = slotEventToWire(e);
        send(message, transfer);
      },
    });
    port.on('message', (m: ToWorker) => {
      switch (m.type) {
        case 'start':
          slot.start();
          break;
        case 'cancel':
          void slot.cancel().then(() => send({ type: 'canceled' }));
          break;
        case 'trigger-checkpoint':
          slot.triggerCheckpoint(m.checkpointId, m.timestamp, m.options);
          break;
        case 'report-metrics':
          slot.reportMetrics();
          break;
        case 'checkpoint-complete':
          slot.notifyCheckpointComplete(m.checkpointId, m.final);
          break;
        case 'checkpoint-aborted':
          slot.notifyCheckpointAborted(m.checkpointId);
          break;
        default:
          assertNever(m, 'launcher message');
      }
    });
    await slot.deploy();
    mark('deployed');
    send({ type: 'ready', startup: [...startup].sort((a, b) => a[1] - b[1]) });
  }

  main().catch((e: unknown) => fail(e));
}
