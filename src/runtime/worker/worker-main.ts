/**
 * A slot worker: re-imports the job module so the pipeline (with its closures) is built again
 * on this thread, checks that the graph equals the launcher's, then hosts subtask `slot` of
 * every vertex. The job module's `execute()` call is captured here instead of starting a job.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { executionRegistry, type Pipeline } from '../../api/execution-context.ts';
import type { JobClient, JobExecutionResult } from '../../api/job-client.ts';
import { buildJobGraph, firstDifference } from '../../graph/job-graph.ts';
import { serializeError } from '../error-transport.ts';
import { encodeValue } from '../record-codec.ts';
import { Slot } from '../slot.ts';
import { systemScheduler } from '../time.ts';
import type { FromWorker, ToWorker, WorkerData } from './protocol.ts';

const data = workerData as WorkerData;
const port = parentPort!;
const send = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

const registry = executionRegistry();
registry.overrides = data.overrides;
registry.jobModule = data.jobModule;

let capture!: (p: Pipeline) => void;
const captured = new Promise<Pipeline>((resolve) => (capture = resolve));

/** Earlier execute() calls of the module end at once here; later ones never start. */
function finishedClient(jobName: string): JobClient {
  const result: JobExecutionResult = { jobId: data.jobId, jobName, netRuntime: 0, getJobID: () => data.jobId, getNetRuntime: () => 0 };
  return {
    getJobID: () => data.jobId,
    getJobStatus: async () => 'FINISHED',
    cancel: async () => {},
    getJobExecutionResult: async () => result,
  };
}

registry.executor = {
  execute(pipeline) {
    if (pipeline.ordinal < data.ordinal) return Promise.resolve(finishedClient(pipeline.jobName));
    if (pipeline.ordinal === data.ordinal) capture(pipeline);
    return new Promise<JobClient>(() => {});
  },
};

function fail(error: unknown, task = 'job module'): void {
  send({ type: 'failed', error: serializeError(error), task });
}

async function main(): Promise<void> {
  const moduleDone = import(data.jobModule).then(
    () => 'returned' as const,
    (e: unknown) => {
      throw e;
    },
  );
  const outcome = await Promise.race([captured, moduleDone]);
  if (outcome === 'returned') {
    throw new Error(`the job module ${data.jobModule} finished without calling env.execute() in this worker (call number ${data.ordinal + 1} was expected)`);
  }
  const pipeline = outcome;
  const graph = buildJobGraph(pipeline);
  if (graph.fingerprint !== data.fingerprint) {
    throw new Error(
      `the job graph built in worker ${data.slot} differs from the launcher's; pipeline construction must be deterministic (same operators, order, parallelism and uids on every import). First difference: ${firstDifference(data.description, graph.description)}`,
    );
  }
  const ports = new Map(Object.entries(data.ports));
  const slot = new Slot({
    jobId: data.jobId,
    graph,
    config: pipeline.config,
    scheduler: systemScheduler,
    attemptNumber: 0,
    hosts: (i) => i === data.slot,
    ports,
    reporter: {
      print: (text, stderr) => send({ type: 'print', text, stderr }),
      collect: (collectId, values) => {
        const bytes = encodeValue(values);
        send({ type: 'collect', collectId, bytes }, [bytes.buffer as ArrayBuffer]);
      },
      finished: () => send({ type: 'finished' }),
      failed: (error, task) => fail(error, task),
    },
  });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'start') slot.start();
    else if (m.type === 'cancel') void slot.cancel().then(() => send({ type: 'canceled' }));
  });
  await slot.deploy();
  send({ type: 'ready' });
}

main().catch((e: unknown) => fail(e));
