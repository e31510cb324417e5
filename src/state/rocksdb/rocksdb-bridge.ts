/**
 * The task thread's side of the RocksDB I/O thread (rocksdb-io-worker.mjs, whose header has the
 * protocol). One I/O thread per JavaScript thread that uses RocksDB, started on first use: in
 * 'threads' mode each slot's worker has its own, in 'inline' mode the process has one.
 *
 * Requests are answered in the order they were posted, whether the caller awaits the answer
 * (`call`) or blocks for it (`callSync`). Writes are posted without waiting (`post`): a read
 * posted later sees them, and a failed write is reported by the next call of any kind, so no
 * failure goes unnoticed. A blocked caller wakes on the shared signal and takes its answer off
 * the port with receiveMessageOnPort; answers to other requests found meanwhile settle their
 * promises as usual.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { monotonicClock } from '../../core/time.ts';
import { ROCKSDB_IO_WORKER_URL } from './rocksdb-io-worker-url.mjs';

/** Bytes and offsets: entry i is bytes[offsets[i], offsets[i + 1]). */
export interface Packed {
  readonly bytes: Uint8Array;
  readonly offsets: Uint32Array;
}

interface Answer {
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly message?: string;
  /** Ms the request waited in the I/O thread before it started, and ms it ran. */
  readonly q?: number;
  readonly r?: number;
  /** Ms from posting until the I/O thread took the request up (when the request was timed). */
  readonly i?: number;
}

/**
 * What one request cost, as seen from the thread that posted it (times from monotonicClock.now()
 * of that thread). `how`: 'sync' the thread blocked for the answer, 'async' it awaited it,
 * 'posted' nobody waited (writes).
 */
export interface RocksDBRequestTiming {
  readonly op: string;
  readonly how: 'sync' | 'async' | 'posted';
  readonly postedAt: number;
  readonly answeredAt: number;
  /** Ms it waited in the I/O thread behind other requests, and ms it ran there. */
  readonly queuedMs: number;
  readonly runMs: number;
  /** Ms from posting until the I/O thread took it up (its event loop busy or without a core). */
  readonly arrivalMs: number;
}

let observer: ((t: RocksDBRequestTiming) => void) | undefined;

/**
 * Installs (or with undefined removes) an observer told the timing of every request this
 * thread's bridge posts from now on: what a task waited for, and for how long. For
 * measurements; costs a clock read and a map entry per request while installed.
 */
export function observeRocksDBRequests(fn: ((t: RocksDBRequestTiming) => void) | undefined): void {
  observer = fn;
}

/** A synchronous caller waits in slices of this many ms (to notice a dead I/O thread)... */
const WAIT_SLICE_MS = 100;
/** ...and gives up with an error after this many slices without an answer (2 minutes). */
const MAX_IDLE_SLICES = 1200;

export class RocksDBBridge {
  readonly #worker: Worker;
  readonly #port: MessagePort;
  readonly #signal = new Int32Array(new SharedArrayBuffer(8));
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Ids of posted writes whose answer nobody awaits. */
  readonly #unawaited = new Set<number>();
  #failure: Error | undefined;
  #nextId = 1;
  #refs = 0;
  #fatal: string | undefined;
  /** While observed: id → [op, how, posted at]. */
  readonly #observed = new Map<number, [string, RocksDBRequestTiming['how'], number]>();

  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#worker = new Worker(ROCKSDB_IO_WORKER_URL, { workerData: { port: port2, signal: this.#signal }, transferList: [port2] });
    this.#worker.on('message', (m: { fatal?: string }) => {
      if (m.fatal !== undefined) this.#fatal = m.fatal;
    });
    this.#worker.on('error', (e) => {
      this.#fatal = e.stack ?? e.message;
    });
    port1.on('message', (a: Answer) => this.#settle(a));
    port1.unref();
    // Registered after the listeners, which would otherwise keep the thread's event loop alive.
    this.#worker.unref();
  }

  /** Posts a request whose failure is reported by a later call (writes). */
  post(request: Record<string, unknown>, transfer?: readonly ArrayBuffer[]): void {
    this.#check();
    const id = this.#nextId++;
    this.#unawaited.add(id);
    this.#send(id, request, transfer, 'posted');
  }

  /** Posts a request and resolves with its answer. */
  call<T>(request: Record<string, unknown>, transfer?: readonly ArrayBuffer[]): Promise<T> {
    this.#check();
    const id = this.#nextId++;
    const answer = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
    if (this.#refs++ === 0) this.#port.ref();
    this.#send(id, request, transfer, 'async');
    return answer;
  }

  /** Posts a request and blocks this thread until it is answered. */
  callSync<T>(request: Record<string, unknown>, transfer?: readonly ArrayBuffer[]): T {
    this.#check();
    const id = this.#nextId++;
    this.#send(id, request, transfer, 'sync');
    const signal = this.#signal;
    let idle = 0;
    for (;;) {
      const seen = Atomics.load(signal, 0);
      for (let m = receiveMessageOnPort(this.#port); m !== undefined; m = receiveMessageOnPort(this.#port)) {
        const a = m.message as Answer;
        if (a.id !== id) {
          this.#settle(a);
          continue;
        }
        this.#observe(a);
        this.#check();
        if (!a.ok) throw new Error(`RocksDB: ${a.message}`);
        return a.value as T;
      }
      if (Atomics.load(signal, 1) !== 0) throw new Error(`the RocksDB I/O thread failed: ${this.#fatal ?? 'an uncaught error'}`);
      if (Atomics.wait(signal, 0, seen, WAIT_SLICE_MS) === 'timed-out' && ++idle >= MAX_IDLE_SLICES) {
        throw new Error(`the RocksDB I/O thread did not answer a '${String(request.op)}' request within ${(MAX_IDLE_SLICES * WAIT_SLICE_MS) / 1000} s`);
      }
    }
  }

  #send(id: number, request: Record<string, unknown>, transfer: readonly ArrayBuffer[] | undefined, how: RocksDBRequestTiming['how']): void {
    if (observer !== undefined) {
      const now = monotonicClock.now();
      this.#observed.set(id, [String(request.op), how, now]);
      this.#port.postMessage({ ...request, id, sent: performance.timeOrigin + now }, transfer as ArrayBuffer[] | undefined);
      return;
    }
    this.#port.postMessage({ ...request, id }, transfer as ArrayBuffer[] | undefined);
  }

  #observe(a: Answer): void {
    const o = this.#observed.get(a.id);
    if (o === undefined) return;
    this.#observed.delete(a.id);
    observer?.({ op: o[0], how: o[1], postedAt: o[2], answeredAt: monotonicClock.now(), queuedMs: a.q ?? 0, runMs: a.r ?? 0, arrivalMs: a.i ?? 0 });
  }

  #settle(a: Answer): void {
    this.#observe(a);
    if (this.#unawaited.delete(a.id)) {
      if (!a.ok && this.#failure === undefined) this.#failure = new Error(`RocksDB: a write failed: ${a.message}`);
      return;
    }
    const p = this.#pending.get(a.id);
    if (p === undefined) return;
    this.#pending.delete(a.id);
    if (--this.#refs === 0) this.#port.unref();
    if (a.ok) p.resolve(a.value);
    else p.reject(new Error(`RocksDB: ${a.message}`));
  }

  /** Throws the first failure of a posted write, or the I/O thread's death. */
  #check(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#fatal !== undefined || Atomics.load(this.#signal, 1) !== 0) {
      throw new Error(`the RocksDB I/O thread failed: ${this.#fatal ?? 'an uncaught error'}`);
    }
  }
}

let shared: RocksDBBridge | undefined;

/** This thread's bridge, started on first use. */
export function rocksDBBridge(): RocksDBBridge {
  shared ??= new RocksDBBridge();
  return shared;
}

/** Packs byte arrays for a request. */
export function pack(parts: readonly Uint8Array[]): Packed {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const bytes = new Uint8Array(total);
  const offsets = new Uint32Array(parts.length + 1);
  let pos = 0;
  for (let i = 0; i < parts.length; i++) {
    bytes.set(parts[i]!, pos);
    pos += parts[i]!.byteLength;
    offsets[i + 1] = pos;
  }
  return { bytes, offsets };
}

/** Entry i of a packed answer, as a view (no copy). */
export function unpacked(p: Packed, i: number): Uint8Array {
  return p.bytes.subarray(p.offsets[i]!, p.offsets[i + 1]!);
}

/** The number of entries of a packed answer. */
export function packedCount(p: Packed): number {
  return p.offsets.length - 1;
}
