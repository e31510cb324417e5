/**
 * NATS connections shared by the readers and writers of one thread.
 *
 * A job runs many readers and writers per worker thread (several subtasks, several attempts after
 * restarts), and the source contract opens and closes readers by the dozen: one TCP connection per
 * server address and options, counted by its users, is cheaper and lets a restarted subtask find a
 * warm connection. When the last user releases it, the connection lingers briefly (a restart
 * usually takes it again at once) and is then closed, so a finished job leaves no socket behind.
 *
 * The client reconnects for ever on its own (`maxReconnectAttempts: -1`): how long an outage may
 * last is decided by the source and the sink (their retry deadlines), which then fail the task.
 */
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';

/** How to reach the NATS server; passed to `connect` of @nats-io/transport-node. */
export interface NatsConnectionSettings {
  /** Server URLs (default `nats://127.0.0.1:4222`). */
  readonly servers?: string | readonly string[];
  /**
   * Further options of `connect` (credentials, TLS, name). They must be plain data; connections
   * are shared between readers and writers whose settings are equal as JSON.
   */
  readonly connectionOptions?: Omit<ConnectionOptions, 'servers'>;
}

export const DEFAULT_SERVERS = 'nats://127.0.0.1:4222';

/** A connection in use, with its JetStream clients; `release` once per `acquireConnection`. */
export interface JetStreamConnection {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  /** The servers, for error messages. */
  readonly where: string;
  release(): void;
}

interface PoolEntry {
  readonly key: string;
  readonly ready: Promise<{ nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager }>;
  users: number;
  linger: ReturnType<typeof setTimeout> | undefined;
}

/** How long an unused connection stays open for the next user, ms. */
const LINGER_MS = 1000;

const pool = new Map<string, PoolEntry>();

export function serversOf(settings: NatsConnectionSettings): string[] {
  const s = settings.servers ?? DEFAULT_SERVERS;
  return typeof s === 'string' ? [s] : [...s];
}

/** A shared connection for these settings; a closed one is replaced. */
export async function acquireConnection(settings: NatsConnectionSettings): Promise<JetStreamConnection> {
  const servers = serversOf(settings);
  const key = JSON.stringify([servers, settings.connectionOptions ?? {}]);
  let entry = pool.get(key);
  if (entry !== undefined) {
    const current = entry;
    const alive = await current.ready.then(
      (c) => !c.nc.isClosed(),
      () => false,
    );
    // Another caller may have replaced it while this one waited.
    entry = pool.get(key);
    if (!alive && entry === current) {
      pool.delete(key);
      entry = undefined;
    }
  }
  if (entry === undefined) {
    const opened: PoolEntry = {
      key,
      users: 0,
      linger: undefined,
      ready: (async () => {
        const nc = await connect({ maxReconnectAttempts: -1, reconnectTimeWait: 250, ...settings.connectionOptions, servers });
        return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc, { checkAPI: false }) };
      })(),
    };
    pool.set(key, opened);
    entry = opened;
  }
  const used = entry;
  used.users++;
  if (used.linger !== undefined) {
    clearTimeout(used.linger);
    used.linger = undefined;
  }
  let c: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager };
  try {
    c = await used.ready;
  } catch (e) {
    drop(used);
    throw new Error(`cannot connect to NATS at ${servers.join(', ')}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let released = false;
  return {
    ...c,
    where: servers.join(', '),
    release: () => {
      if (released) return;
      released = true;
      drop(used);
    },
  };
}

function drop(entry: PoolEntry): void {
  if (--entry.users > 0) return;
  entry.linger = setTimeout(() => {
    entry.linger = undefined;
    if (entry.users > 0) return;
    if (pool.get(entry.key) === entry) pool.delete(entry.key);
    entry.ready.then(
      (c) => c.nc.close(),
      () => {},
    );
  }, LINGER_MS);
}

/**
 * Closes every connection this thread shares between JetStream readers and writers, used or not:
 * for a program (or a test) that ends while a reader or writer was never closed, e.g. after a
 * failure. Readers and writers still open then fail on their next request.
 */
export async function closeSharedConnections(): Promise<void> {
  const entries = [...pool.values()];
  pool.clear();
  await Promise.all(
    entries.map(async (entry) => {
      if (entry.linger !== undefined) clearTimeout(entry.linger);
      entry.linger = undefined;
      const c = await entry.ready.catch(() => undefined);
      await c?.nc.close().catch(() => {});
    }),
  );
}
