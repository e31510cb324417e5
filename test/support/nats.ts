/**
 * What the NATS JetStream tests share: whether a server is there, stream names unique to one test
 * run, and their cleanup.
 *
 * The server is `WEIR_NATS_URL` (default nats://127.0.0.1:4222). Without one the tests are skipped
 * with the reason, except under CI=true, where they fail: a CI run must not pass by skipping.
 *
 * Stream names: a test file's cases are rebuilt in every worker thread of a job (the job module
 * imports the case module again), so a name must be the same in every thread of one run and
 * differ between runs (and between test files running at the same time). The run id is taken
 * from WEIR_NATS_TEST_RUN, which the first import in the test process sets; worker threads start
 * with a copy of the process's environment, so they see the same id.
 */
import { createServer, connect as tcpConnect, type Socket } from 'node:net';
import { it } from 'node:test';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';

export const NATS_URL = process.env['WEIR_NATS_URL'] ?? 'nats://127.0.0.1:4222';

process.env['WEIR_NATS_TEST_RUN'] ??= `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
/** This test run's id: the same in every thread of the process. */
export const RUN_ID: string = process.env['WEIR_NATS_TEST_RUN'];

/** A stream name for this run: `weir_<label>_<run>`; stable for a label within a run. */
export function streamName(label: string): string {
  return `weir_${label}_${RUN_ID}`;
}

let counter = 0;
/** A stream name no other call of this process returns (main thread only: counters differ between threads). */
export function uniqueStreamName(label: string): string {
  return streamName(`${label}${++counter}`);
}

/** Why no JetStream server is usable, or undefined when one is. */
export async function natsUnavailable(): Promise<string | undefined> {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers: NATS_URL, timeout: 2_000, reconnect: false });
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.getAccountInfo();
    return undefined;
  } catch (e) {
    return `no NATS JetStream server at ${NATS_URL} (${e instanceof Error ? e.message : String(e)})`;
  } finally {
    await nc?.close().catch(() => {});
  }
}

/**
 * Whether the file's tests can run. When they cannot, registers one test that fails under CI=true
 * and is skipped with the reason otherwise; the caller then registers nothing else.
 */
export async function requireNats(what: string): Promise<boolean> {
  const reason = await natsUnavailable();
  if (reason === undefined) return true;
  if (process.env['CI'] === 'true') {
    it(`${what}: needs a NATS JetStream server`, () => {
      throw new Error(`${reason}; CI=true, so the NATS connector tests fail instead of being skipped (start nats-server -js, or set WEIR_NATS_URL)`);
    });
  } else {
    it(`${what}: needs a NATS JetStream server`, { skip: `${reason}; set WEIR_NATS_URL or start nats-server -js` }, () => {});
  }
  return false;
}

/**
 * A TCP proxy in front of the server, for outages: `cut()` drops every connection and refuses new
 * ones (the server looks down to whoever connected through the proxy) until `restore()`.
 */
export async function startNatsProxy(): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const target = new URL(NATS_URL.includes('://') ? NATS_URL : `nats://${NATS_URL}`);
  const sockets = new Set<Socket>();
  let down = false;
  const server = createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = tcpConnect(Number(target.port || 4222), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `nats://127.0.0.1:${port}`,
    cut: () => {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      down = false;
    },
    close: async () => {
      down = true;
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A connection for a test's own setup and checks, with the streams it created, deleted by `close`. */
export class NatsTestAdmin {
  readonly #created = new Set<string>();
  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
  ) {}

  static async open(): Promise<NatsTestAdmin> {
    const nc = await connect({ servers: NATS_URL, timeout: 5_000 });
    return new NatsTestAdmin(nc, await jetstreamManager(nc));
  }

  /** Creates a stream capturing `<name>.>` (unless `subjects` says otherwise), in memory; deleted by `close`. */
  async createStream(name: string, config: Partial<StreamConfig> = {}): Promise<string> {
    await this.jsm.streams.add({ name, subjects: [`${name}.>`], storage: StorageType.Memory, ...config });
    this.#created.add(name);
    return name;
  }

  async deleteStream(name: string): Promise<void> {
    this.#created.delete(name);
    await this.jsm.streams.delete(name).catch(() => {});
  }

  /** Publishes the payloads in order, each on its subject; the stream then holds them at sequences 1..n. */
  async fill(messages: readonly { readonly subject: string; readonly data: string }[]): Promise<void> {
    const js = jetstream(this.nc);
    const window = 512;
    for (let i = 0; i < messages.length; i += window) {
      // In order: one publish after the other within a window, the window's acks awaited together.
      const acks = messages.slice(i, i + window).map((m) => js.publish(m.subject, m.data));
      await Promise.all(acks);
    }
  }

  /** Every message the stream holds, in sequence order. */
  async readAll(stream: string): Promise<{ seq: number; subject: string; data: string }[]> {
    return this.readFrom(stream, 1);
  }

  /** The messages the stream holds from sequence `from` on, in sequence order. */
  async readFrom(stream: string, from: number): Promise<{ seq: number; subject: string; data: string }[]> {
    const info = await this.jsm.streams.info(stream);
    if (info.state.messages === 0 || info.state.last_seq < from) return [];
    const ci = await this.jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
      inactive_threshold: 30_000_000_000,
      mem_storage: true,
    });
    try {
      const total = ci.num_pending;
      const consumer = jetstream(this.nc).consumers.getConsumerFromInfo(ci);
      const out: { seq: number; subject: string; data: string }[] = [];
      while (out.length < total) {
        const batch = await consumer.fetch({ max_messages: Math.min(total - out.length, 4096), expires: 2_000 });
        const before = out.length;
        for await (const m of batch) {
          out.push({ seq: m.seq, subject: m.subject, data: m.string() });
          if (m.info.pending === 0) break;
        }
        if (out.length === before) break;
      }
      return out;
    } finally {
      await this.jsm.consumers.delete(stream, ci.name).catch(() => {});
    }
  }

  /**
   * A reader of everything a stream holds that reads only what is new on each call: for polling a
   * stream whose messages are never removed while it is polled (de-duplication happens before a
   * message is stored, so what is stored stays as it is).
   */
  follower(stream: string): () => Promise<string[]> {
    const seen: string[] = [];
    let next = 1;
    return async () => {
      const fresh = await this.readFrom(stream, next);
      for (const m of fresh) seen.push(m.data);
      if (fresh.length > 0) next = fresh.at(-1)!.seq + 1;
      return [...seen];
    };
  }

  /** Deletes every stream this admin created, then closes the connection. */
  async close(): Promise<void> {
    for (const name of [...this.#created]) await this.deleteStream(name);
    await this.nc.close();
  }
}
