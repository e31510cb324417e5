/**
 * exchange: the cost of moving records from one thread to another through weir's channel alone,
 * without a job around it. A producer (this thread) stages records with a RecordWriter onto one
 * channel, as a task's output does, and a consumer takes the batches, reads every record and
 * returns credit, as a task's input does. Measured per record kind (`numbers`: packed numbers
 * as in user-keyed; `events`: Event { user, url, timestamp } objects, examples/event.ts), both
 * with timestamps, through:
 *
 *   - remote: RemoteOutput → RemoteInput between this thread and a worker thread (encode,
 *     transfer, decode, credit flowing back), exactly as slot.ts builds a channel between slots;
 *   - local: a LocalChannel within this thread, the floor (staging, handing over, reading).
 *
 * Figures per configuration: records/s (N / wall time from the first record to the consumer's
 * confirmation of the last), CPU µs per record (process.cpuUsage() over the same span: every
 * thread of the process, so encoding, decoding, messaging and idle wake-ups of both ends), and
 * bytes per record on the wire. Every run is checked: the consumer's count and checksum over
 * what it read must equal the producer's.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, parentPort, Worker, workerData } from 'node:worker_threads';
import { Event } from '../examples/event.ts';
import type { InputChannel, OutputChannel } from '../src/runtime/channel/channel.ts';
import { LocalChannel } from '../src/runtime/channel/local-channel.ts';
import { RemoteInput, RemoteOutput } from '../src/runtime/channel/remote-channel.ts';
import { END_OF_PARTITION } from '../src/runtime/events.ts';
import { Backpressure, RecordWriter } from '../src/runtime/record-writer.ts';
import { median, type Benchmark, type BenchOptions, type DetailRow } from './harness.ts';
import { KEY_SPACE, mix, timestampOf, urlOf, userOf } from './jobs/user-keyed-common.ts';

type Kind = 'numbers' | 'events';
type Transport = 'remote' | 'local';

/** The defaults of weir.network.* (configuration.ts), as a job gets them. */
const BUFFER = { records: 4096, bytes: 128 * 1024 };
const CREDITS = 4;
const KEYS = 100;
/** Producer time slice before it yields to its event loop, as a source's split reader does. */
const SLICE_MS = 5;

interface Result {
  readonly count: number;
  readonly checksum: number;
}

/** What the consumer folds over every record it reads: forces every field to be materialised. */
function fold(kind: Kind, checksum: number, v: unknown): number {
  if (kind === 'numbers') return (checksum + (v as number)) % 2 ** 40;
  const e = v as Event;
  if (!(e instanceof Event)) throw new Error('exchange: an Event arrived without its class');
  return (checksum + e.timestamp + e.user.length * 7 + e.url.length) % 2 ** 40;
}

function record(kind: Kind, x: number): { value: unknown; timestamp: number } {
  const h = mix(x);
  const timestamp = timestampOf(x - 1, h);
  if (kind === 'numbers') return { value: timestamp * KEY_SPACE + userOf(h, KEYS), timestamp };
  return { value: new Event(`user-${userOf(h, KEYS)}`, urlOf(h), timestamp), timestamp };
}

/**
 * Consumes `input` until end-of-partition, reading every record; drains what has arrived, then
 * yields to the event loop (credits go back at the end of the turn), as a task's mailbox does.
 */
function consume(kind: Kind, input: InputChannel, done: (r: Result) => void): void {
  let count = 0;
  let checksum = 0;
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    for (;;) {
      const item = input.poll();
      if (item === undefined) return;
      if (item.kind === 'records') {
        const { values, timestamps, count: n } = item.batch;
        for (let i = 0; i < n; i++) {
          checksum = fold(kind, checksum, values[i]);
          if (timestamps !== null) checksum = (checksum + timestamps[i]!) % 2 ** 40;
        }
        count += n;
        input.release();
      } else if (item.kind === 'end-of-partition') {
        done({ count, checksum });
        return;
      }
    }
  };
  input.onItem = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(drain);
  };
  if (input.hasItem) input.onItem();
}

/** Produces 1..n onto `output` under backpressure; resolves with what the consumer must see. */
function produce(kind: Kind, n: number, output: OutputChannel): Promise<Result> {
  const backpressure = new Backpressure();
  const writer = new RecordWriter([output], () => 0, BUFFER, backpressure);
  let x = 1;
  let checksum = 0;
  return new Promise((resolve, reject) => {
    const step = (): void => {
      try {
        const end = performance.now() + SLICE_MS;
        while (x <= n && backpressure.blocked === 0) {
          const { value, timestamp } = record(kind, x++);
          checksum = fold(kind, checksum, value);
          checksum = (checksum + timestamp) % 2 ** 40;
          writer.emit(value, timestamp);
          if ((x & 255) === 0 && performance.now() >= end) break;
        }
        if (x > n) {
          writer.flush();
          output.sendEvent(END_OF_PARTITION);
          resolve({ count: n, checksum });
        } else if (backpressure.blocked > 0) backpressure.onRelease = () => setImmediate(step);
        else setImmediate(step);
      } catch (e) {
        reject(e);
      }
    };
    step();
  });
}

// ---- the consumer thread ---------------------------------------------------------------------

interface ConsumerData {
  readonly exchangeConsumer: true;
  readonly kind: Kind;
  readonly port: MessagePort;
}

if (parentPort !== null && (workerData as Partial<ConsumerData> | null)?.exchangeConsumer === true) {
  const { kind, port } = workerData as ConsumerData;
  const input = new RemoteInput(port);
  consume(kind, input, (r) => parentPort!.postMessage(r));
  parentPort.postMessage('ready');
}

/** Starts a consumer thread on `port`; resolves once it listens, with the promise of its result. */
async function startConsumer(kind: Kind, port: MessagePort): Promise<{ worker: Worker; result: Promise<Result> }> {
  const self = fileURLToPath(import.meta.url);
  const hooks = new URL('../src/runtime/worker/source-hooks.mjs', import.meta.url).href;
  // A worker cannot take a .ts entry: register the TypeScript loader in it, then import this file.
  const code =
    `require('node:module').register(${JSON.stringify(hooks)});` +
    `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL(`file://${self}`).href)}); })` +
    `.catch((e) => { console.error(e); process.exit(1); });`;
  const data: ConsumerData = { exchangeConsumer: true, kind, port };
  const worker = new Worker(code, { eval: true, workerData: data, transferList: [port] });
  let resolveResult!: (r: Result) => void;
  const result = new Promise<Result>((resolve, reject) => {
    resolveResult = resolve;
    worker.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: Result | 'ready') => {
      if (m === 'ready') resolve();
      else resolveResult(m);
    });
    worker.once('error', reject);
  });
  return { worker, result };
}

interface RunFigures {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly bytes: number;
  readonly batches: number;
}

export async function runOnce(kind: Kind, transport: Transport, n: number): Promise<RunFigures> {
  let output: OutputChannel;
  let consumed: Promise<Result>;
  let worker: Worker | undefined;
  if (transport === 'remote') {
    const { port1, port2 } = new MessageChannel();
    const consumer = await startConsumer(kind, port2);
    worker = consumer.worker;
    consumed = consumer.result;
    output = new RemoteOutput(port1, CREDITS, 'exchange');
  } else {
    const channel = new LocalChannel(CREDITS);
    output = channel.output;
    consumed = new Promise((resolve) => consume(kind, channel.input, resolve));
  }
  let batches = 0;
  const send = output.sendBatch.bind(output);
  output.sendBatch = (batch) => {
    batches++;
    send(batch);
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const expected = await produce(kind, n, output);
  const got = await consumed;
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  output.close();
  await worker?.terminate();
  if (got.count !== expected.count || got.checksum !== expected.checksum) {
    throw new Error(`exchange ${kind} ${transport}: consumer read ${got.count} records (checksum ${got.checksum}), producer sent ${expected.count} (${expected.checksum})`);
  }
  const bytes = output instanceof RemoteOutput ? output.bytesOut : 0;
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000, bytes, batches };
}

async function run(options: BenchOptions): Promise<DetailRow[]> {
  const n = options.quick ? 1_000_000 : 5_000_000;
  const rows: DetailRow[] = [];
  for (const kind of ['numbers', 'events'] as const) {
    for (const transport of ['remote', 'local'] as const) {
      options.log(`[exchange] ${kind}, ${transport}: warm-up`);
      await runOnce(kind, transport, Math.min(n, 500_000));
      const runs: RunFigures[] = [];
      for (let r = 0; r < options.runs; r++) {
        const f = await runOnce(kind, transport, n);
        options.log(`[exchange] ${kind}, ${transport}: ${((n / f.wallMs) * 1000).toFixed(0)} rec/s, ${((f.cpuMs * 1000) / n).toFixed(3)} µs CPU/record`);
        runs.push(f);
      }
      const wall = median(runs.map((f) => f.wallMs));
      const cpu = median(runs.map((f) => f.cpuMs));
      rows.push({
        kind: 'detail',
        benchmark: 'exchange',
        table: 'exchange: one channel, producer → consumer (median of runs)',
        mode: transport === 'remote' ? 'threads' : 'inline',
        parallelism: 1,
        runs: options.runs,
        cells: {
          records: kind,
          channel: transport === 'remote' ? 'remote (2 threads)' : 'local (1 thread)',
          N: n.toLocaleString('en-US'),
          'rec/s': `${((n / wall) * 1000 / 1e6).toFixed(2)} M`,
          'CPU µs/record': ((cpu * 1000) / n).toFixed(3),
          'CPU/wall': (cpu / wall).toFixed(2),
          'bytes/record': transport === 'remote' ? (runs[0]!.bytes / n).toFixed(1) : '–',
          'records/batch': (n / median(runs.map((f) => f.batches))).toFixed(0),
        },
        figures: { kind, transport, n, wallMs: runs.map((f) => f.wallMs), cpuMs: runs.map((f) => f.cpuMs), bytes: runs[0]!.bytes, batches: runs.map((f) => f.batches) },
      });
    }
  }
  return rows;
}

export const exchange: Benchmark = {
  name: 'exchange',
  summary: 'one channel between two threads alone: records/s and CPU per record, numbers and Event objects',
  run,
};
