/**
 * JetStreamSource and JetStreamSink against a real server, beyond the contract suites: the source
 * resumes exactly at a snapshot's sequence, a job restored after a failure writes its output
 * exactly once, the sink de-duplicates by id, warns when the duplicate window is shorter than the
 * declared recovery time, gives up publishing after its retry deadline, and missing streams and
 * malformed JSON fail with errors that name the stream (and the sequence).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RestartStrategies, type ReaderOutput, type RecoverySettings, type SinkWriterContext, type SinkWriterElementContext, type SourceReader } from 'weir';
import { defaultRestartStrategy } from '../../../src/api/restart-strategies.ts';
import { closeSharedConnections, JetStreamSink, JetStreamSource, jsonDeserializer, stringDeserializer, type JetStreamSplit } from 'weir/connectors/nats';
import { startJob } from 'weir/testing';
import { NATS_URL, NatsTestAdmin, requireNats, startNatsProxy, uniqueStreamName } from '../../support/nats.ts';

const REPLAY_JOB = fileURLToPath(new URL('./replay-job.ts', import.meta.url));
const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const writerContext = { getRecoverySettings: () => ({ checkpointIntervalMs: undefined, restartStrategy: { kind: 'none' } }) } as SinkWriterContext;
/** A writer context of a job with these recovery settings. */
const jobWith = (settings: RecoverySettings): SinkWriterContext => ({ ...writerContext, getRecoverySettings: () => settings });
const elementContext = (id: string): SinkWriterElementContext => ({ timestamp: () => undefined, currentWatermark: () => Number.NEGATIVE_INFINITY, recordId: () => id });

/** Polls until `want` records came or the reader throws; waits for isAvailable in between. */
async function read<T>(reader: SourceReader<T, JetStreamSplit>, want: number, timeoutMs = 10_000): Promise<T[]> {
  const out: T[] = [];
  const output: ReaderOutput<T> = { collect: (v) => void out.push(v) };
  const deadline = Date.now() + timeoutMs;
  while (out.length < want) {
    const status = reader.pollNext(output);
    if (status === 'END_OF_INPUT') break;
    if (status === 'NOTHING_AVAILABLE') {
      assert.ok(Date.now() < deadline, `only ${out.length} of ${want} records within ${timeoutMs} ms`);
      await Promise.race([reader.isAvailable(), delay(20)]);
    }
  }
  return out;
}

/** Polls one record at a time (pollNext may emit several; the test wants an exact count). */
function readerFor<T>(source: JetStreamSource<T>, splits: readonly JetStreamSplit[]): SourceReader<T, JetStreamSplit> {
  const reader = source.createReader({ getIndexOfSubtask: () => 0, getNumberOfParallelSubtasks: () => 1 });
  reader.addSplits(splits);
  reader.notifyNoMoreSplits();
  return reader;
}

if (await requireNats('JetStream connector')) {
  let admin: NatsTestAdmin;
  before(async () => {
    admin = await NatsTestAdmin.open();
  });
  after(async () => {
    await admin.close();
    await closeSharedConnections();
  });

  describe('JetStreamSource', () => {
    it('a reader restored from a snapshot resumes at the first sequence after the last record emitted', async () => {
      const stream = await admin.createStream(uniqueStreamName('resume'));
      // Two subjects interleaved: the split for `a` skips b's sequences.
      await admin.fill(Array.from({ length: 300 }, (_, i) => ({ subject: `${stream}.${i % 3 === 0 ? 'b' : 'a'}`, data: `m${i}` })));
      const source = new JetStreamSource({ servers: NATS_URL, stream, subjects: [`${stream}.a`], deserializer: (m) => ({ seq: m.seq, text: stringDeserializer(m) }), fetchBatch: 16 });
      const first = readerFor(source, source.createSplits(1));
      const before = await read(first, 70);
      const snapshot = first.snapshotState(1);
      const last = before.at(-1)!;
      assert.equal(snapshot.length, 1);
      assert.equal(snapshot[0]!.next, last.seq + 1, 'the snapshot holds the sequence after the last emitted record');
      // The old reader has more buffered (fetched in batches of 16) than it emitted: the snapshot ignores it.
      await first.close?.();
      const second = readerFor(source, structuredClone(snapshot));
      const rest = await read(second, 200 - before.length);
      await second.close?.();
      const all = [...before, ...rest].map((r) => r.text);
      assert.deepEqual(
        all,
        Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 3 !== 0).map((i) => `m${i}`),
        'the first reader and the restored one together read subject a once, in order',
      );
      await admin.deleteStream(stream);
    });

    it('an unbounded source reads messages published after it started', async () => {
      const stream = await admin.createStream(uniqueStreamName('live'));
      const source = new JetStreamSource({ servers: NATS_URL, stream, deserializer: stringDeserializer });
      const reader = readerFor(source, source.createSplits(1));
      assert.equal(reader.pollNext({ collect: () => {} }), 'NOTHING_AVAILABLE');
      await delay(50);
      await admin.fill([{ subject: `${stream}.x`, data: 'late' }]);
      assert.deepEqual(await read(reader, 1), ['late']);
      assert.equal(reader.pollNext({ collect: () => {} }), 'NOTHING_AVAILABLE', 'an unbounded source does not end');
      await reader.close?.();
      await admin.deleteStream(stream);
    });

    it('a reader cut off from the server for a while goes on where it was: every message once, in order', async () => {
      const stream = await admin.createStream(uniqueStreamName('srcoutage'));
      await admin.fill(Array.from({ length: 200 }, (_, i) => ({ subject: `${stream}.x`, data: `m${i}` })));
      const proxy = await startNatsProxy();
      try {
        const source = new JetStreamSource({ servers: proxy.url, stream, deserializer: stringDeserializer, fetchBatch: 20, connectionOptions: { name: 'source-outage' } });
        const reader = readerFor(source, source.createSplits(1));
        const before = await read(reader, 50);
        proxy.cut();
        await delay(300);
        proxy.restore();
        const after = await read(reader, 200 - before.length);
        assert.deepEqual([...before, ...after], Array.from({ length: 200 }, (_, i) => `m${i}`));
        await reader.close?.();
      } finally {
        await proxy.close();
        await closeSharedConnections();
      }
      await admin.deleteStream(stream);
    });

    it('a reader whose consumer disappears (e.g. a server restart loses it) makes a new one where it was: every message once, in order', async () => {
      const stream = await admin.createStream(uniqueStreamName('lostconsumer'));
      await admin.fill(Array.from({ length: 200 }, (_, i) => ({ subject: `${stream}.x`, data: `m${i}` })));
      const source = new JetStreamSource({ servers: NATS_URL, stream, bounded: true, deserializer: stringDeserializer, fetchBatch: 20 });
      const reader = readerFor(source, source.createSplits(1));
      const before = await read(reader, 50);
      const consumers: string[] = [];
      for await (const ci of admin.jsm.consumers.list(stream)) consumers.push(ci.name);
      assert.equal(consumers.length, 1, 'the reader reads through one consumer');
      await admin.jsm.consumers.delete(stream, consumers[0]!);
      const after = await read(reader, 200);
      assert.deepEqual([...before, ...after], Array.from({ length: 200 }, (_, i) => `m${i}`));
      await reader.close?.();
      await admin.deleteStream(stream);
    });

    it('a missing stream fails the reader with an error naming it', async () => {
      const stream = uniqueStreamName('absent');
      for (const subjects of [undefined, [`${stream}.x`]]) {
        for (const bounded of [true, false]) {
          const source = new JetStreamSource({ servers: NATS_URL, stream, bounded, deserializer: stringDeserializer, ...(subjects === undefined ? {} : { subjects }) });
          const reader = readerFor(source, source.createSplits(1));
          await assert.rejects(read(reader, 1), new RegExp(`JetStream stream "${stream}" does not exist`), `subjects ${subjects}, bounded ${bounded}`);
          await reader.close?.();
        }
      }
    });

    it('malformed JSON fails with an error naming the stream and the sequence', async () => {
      const stream = await admin.createStream(uniqueStreamName('json'));
      await admin.fill(['{"n":1}', 'not json', '{"n":3}'].map((data) => ({ subject: `${stream}.x`, data })));
      const source = new JetStreamSource({ servers: NATS_URL, stream, bounded: true, deserializer: jsonDeserializer<{ n: number }>() });
      const reader = readerFor(source, source.createSplits(1));
      await assert.rejects(read(reader, 3), new RegExp(`message 2 of stream "${stream}" \\(subject ${stream}\\.x\\).*not valid JSON`));
      await reader.close?.();
      await admin.deleteStream(stream);
    });
  });

  describe('JetStreamSink', () => {
    it('publishes with Nats-Msg-Id, so a record written again under the same id is stored once', async () => {
      const stream = await admin.createStream(uniqueStreamName('dedupe'));
      const sink = new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out` });
      const writer = await sink.createWriter(writerContext);
      await writer.write('first', elementContext('id-1'));
      await writer.write('again', elementContext('id-1'));
      await writer.write('second', elementContext('id-2'));
      await writer.flush(false);
      await writer.close();
      assert.deepEqual((await admin.readAll(stream)).map((m) => m.data), ['first', 'second']);
      await admin.deleteStream(stream);
    });

    it("warns when the job's recovery time (checkpoint interval plus worst restart delay) may exceed the stream duplicate window, and not otherwise", async () => {
      const stream = await admin.createStream(uniqueStreamName('window'), { duplicate_window: 2_000_000_000 });
      const warnings: string[] = [];
      const log = { warn: (msg: string) => void warnings.push(msg) };
      const slow = new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out`, log });
      const slowJob = jobWith({ checkpointIntervalMs: 1_000, restartStrategy: RestartStrategies.fixedDelayRestart(3, 5_000) });
      await (await slow.createWriter(slowJob)).close();
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, new RegExp(`duplicate window of stream "${stream}" is 2 s, but recovering from a failure may take up to 6 s`));
      // Once per sink object, not once per subtask.
      await (await slow.createWriter(slowJob)).close();
      assert.equal(warnings.length, 1);

      // A job that recovers fast enough: no warning.
      const quickJob = jobWith({ checkpointIntervalMs: 200, restartStrategy: RestartStrategies.fixedDelayRestart(3, 500) });
      await (await new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out`, log }).createWriter(quickJob)).close();
      // maxRecoveryMs overrides what the job's settings allow.
      const declared = new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out`, maxRecoveryMs: 500, log });
      await (await declared.createWriter(slowJob)).close();
      assert.equal(warnings.length, 1, warnings.join('\n'));
      // Flink's default with checkpointing (exponential delay up to 1 min) against a 2 s window.
      const byDefault = new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out`, log });
      await (await byDefault.createWriter(jobWith({ checkpointIntervalMs: 1_000, restartStrategy: defaultRestartStrategy(true) }))).close();
      assert.equal(warnings.length, 2, warnings.join('\n'));
      assert.match(warnings[1]!, /may take up to 67 s/);
      await admin.deleteStream(stream);
    });

    it('a missing stream, or one that does not capture the subject, fails the writer with an error naming it', async () => {
      const missing = uniqueStreamName('nostream');
      const sink = new JetStreamSink<string>({ servers: NATS_URL, stream: missing, subject: `${missing}.out` });
      await assert.rejects(sink.createWriter(writerContext), new RegExp(`JetStream stream "${missing}" does not exist`));
      const stream = await admin.createStream(uniqueStreamName('elsewhere'));
      const wrong = new JetStreamSink<string>({ servers: NATS_URL, stream, subject: 'somewhere.else' });
      await assert.rejects(wrong.createWriter(writerContext), new RegExp(`stream "${stream}" does not capture subject somewhere\\.else`));
      await admin.deleteStream(stream);
    });

    it('retries publishes while the server is unreachable, then fails the task after its deadline; nothing is stored twice', async () => {
      const stream = await admin.createStream(uniqueStreamName('outage'));
      const proxy = await startNatsProxy();
      try {
        const options = { servers: proxy.url, stream, subject: `${stream}.out`, publishTimeoutMs: 100, connectionOptions: { name: 'outage' } };
        // Recovered within the deadline: the records written during the outage are stored once each.
        const patient = await new JetStreamSink<string>({ ...options, retryTimeoutMs: 20_000 }).createWriter(writerContext);
        await patient.write('before', elementContext('a'));
        await patient.flush(false);
        proxy.cut();
        await patient.write('during-1', elementContext('b'));
        await patient.write('during-2', elementContext('c'));
        await delay(300);
        proxy.restore();
        await patient.flush(false);
        assert.deepEqual((await admin.readAll(stream)).map((m) => m.data).sort(), ['before', 'during-1', 'during-2']);
        await patient.close();

        // Not recovered within the deadline: the writer fails, naming the stream and the deadline.
        const hasty = await new JetStreamSink<string>({ ...options, retryTimeoutMs: 400 }).createWriter(writerContext);
        proxy.cut();
        const started = Date.now();
        await hasty.write('lost', elementContext('d'));
        await assert.rejects(async () => hasty.flush(false), new RegExp(`could not publish to stream "${stream}" .* for 400 ms .*restarts from its last checkpoint`));
        const took = Date.now() - started;
        assert.ok(took >= 400 && took < 5_000, `gave up after ${took} ms`);
        await assert.rejects(async () => hasty.write('after', elementContext('e')), /could not publish/, 'the writer stays failed');
        await hasty.close();
      } finally {
        await proxy.close();
        await closeSharedConnections();
      }
    });

    it('a stream deleted while the job runs fails the next publish with an error naming it', async () => {
      const stream = await admin.createStream(uniqueStreamName('gone'));
      const writer = await new JetStreamSink<string>({ servers: NATS_URL, stream, subject: `${stream}.out` }).createWriter(writerContext);
      await writer.write('stored', elementContext('a'));
      await writer.flush(false);
      await admin.deleteStream(stream);
      await writer.write('orphan', elementContext('b'));
      await assert.rejects(async () => writer.flush(false), new RegExp(`JetStream stream "${stream}" does not exist`));
      await writer.close();
    });
  });

  it('a job restored after a failure resumes the source at its checkpointed sequences: the output holds every record exactly once', async () => {
    const input = await admin.createStream(uniqueStreamName('replayin'));
    const output = await admin.createStream(uniqueStreamName('replayout'));
    const count = 1000;
    const messages = Array.from({ length: count }, (_, n) => ({ subject: `${input}.${n % 2 === 0 ? 'a' : 'b'}`, data: JSON.stringify({ n }) }));
    const runKey = `${input}-run`;
    const client = await startJob(REPLAY_JOB, { args: [input, output, runKey, JSON.stringify({ failAfter: 40 })], parallelism: 2, mode: 'inline' });
    // The input arrives while the job runs, 50 messages every 20 ms: checkpoints complete in between.
    const publishing = (async () => {
      for (let i = 0; i < count; i += 50) {
        await admin.fill(messages.slice(i, i + 50));
        await delay(20);
      }
    })();
    const ended = client.getJobExecutionResult().then(
      () => new Error('the unbounded job ended by itself'),
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const stored = (await admin.jsm.streams.info(output)).state.messages;
        if (stored >= count) break;
        assert.ok(Date.now() < deadline, `only ${stored} of ${count} records in the output after 30 s`);
        const error = await Promise.race([ended, delay(50).then(() => undefined)]);
        if (error !== undefined) throw error;
      }
      // A few more checkpoints: nothing more may arrive.
      await delay(250);
    } finally {
      await publishing;
      await client.cancel().catch(() => {});
      await ended;
    }
    const visible = (await admin.readAll(output)).map((m) => m.data);
    const expected = Array.from({ length: count }, (_, n) => `record-${n}`);
    assert.deepEqual([...visible].sort(), [...expected].sort(), 'every record once, nothing else');
    assert.ok((await client.getNumRestarts()) >= 1, 'the injected failure restarted the job');
    assert.equal((await client.getCheckpointStats())?.counts.restored, 1, 'the restart restored a checkpoint');
    const processed = (globalThis as { __weirNatsReplay?: Map<string, number> }).__weirNatsReplay?.get(runKey) ?? 0;
    assert.ok(processed > count, `records after the checkpoint were replayed (${processed} processed for ${count} records)`);
    await admin.deleteStream(input);
    await admin.deleteStream(output);
  });
}
