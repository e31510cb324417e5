/**
 * The pending committables of a sink subtask: what a commit round hands over, what each outcome
 * of a commit request does to them, how they round-trip through operator state, and the
 * plain-data check on what goes into a checkpoint.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CommitRequest, Committer, PlainDataCodec } from '../../src/api/sink.ts';
import { assertPlainData, PendingCommittables } from '../../src/runtime/operators/pending-committables.ts';

/** A committer that records what it saw and answers each committable as `answer` says. */
function committer<C>(answer: (c: C, r: CommitRequest<C>) => void): Committer<C> & { seen: C[][] } {
  const seen: C[][] = [];
  return {
    seen,
    commit(requests) {
      seen.push(requests.map((r) => r.getCommittable()));
      for (const r of requests) answer(r.getCommittable(), r);
    },
  };
}

test('a round commits the committables of checkpoints up to the completed one, in checkpoint order, and removes them', async () => {
  const p = new PendingCommittables<string>();
  p.add(1, ['a1', 'b1']);
  p.add(2, ['a2']);
  p.add(3, ['a3']);
  const c = committer<string>(() => {});
  const round = await p.commitUpTo(c, 2, 10);
  assert.deepEqual(c.seen, [['a1', 'b1', 'a2']]);
  assert.deepEqual(round, { attempted: 3, retrying: 0, knownFailures: [] });
  assert.equal(p.size, 1);
  assert.equal(p.hasUpTo(2), false);
  assert.equal(p.hasUpTo(3), true);
  assert.deepEqual(await p.commitUpTo(c, 2, 10), { attempted: 0, retrying: 0, knownFailures: [] }, 'nothing left up to 2: the committer is not called');
  assert.equal(c.seen.length, 1);
});

test('retryLater keeps a committable with its retry count; updateAndRetryLater replaces it; known failures and already committed ones leave', async () => {
  const p = new PendingCommittables<string>();
  p.add(1, ['ok', 'later', 'update', 'known', 'already']);
  const retries: number[] = [];
  const c = committer<string>((v, r) => {
    if (v === 'later') {
      retries.push(r.getNumberOfRetries());
      r.retryLater();
    }
    if (v === 'update') r.updateAndRetryLater('updated');
    if (v === 'updated') retries.push(r.getNumberOfRetries());
    if (v === 'known') r.signalFailedWithKnownReason(new Error('expired'));
    if (v === 'already') r.signalAlreadyCommitted();
  });
  const first = await p.commitUpTo(c, 1, 10);
  assert.equal(first.retrying, 2);
  assert.deepEqual(
    first.knownFailures.map((e) => (e as Error).message),
    ['expired'],
  );
  assert.deepEqual(
    p.toState(undefined, 'the sink').map((e) => [e.committable, e.retries]),
    [
      ['later', 1],
      ['updated', 1],
    ],
  );
  await p.commitUpTo(c, 1, 10);
  assert.deepEqual(c.seen[1], ['later', 'updated']);
  assert.deepEqual(retries, [0, 1, 1], 'each retry sees how often the committable was retried');
});

test('an unknown failure, a throwing committer and too many retries reject the round', async () => {
  const unknown = new PendingCommittables<string>();
  unknown.add(4, ['x']);
  await assert.rejects(
    unknown.commitUpTo(committer<string>((_, r) => r.signalFailedWithUnknownReason(new Error('boom'))), 4, 10),
    /committable of checkpoint 4 failed: boom/,
  );
  const throwing = new PendingCommittables<string>();
  throwing.add(1, ['x']);
  await assert.rejects(throwing.commitUpTo({ commit: () => Promise.reject(new Error('down')) }, 1, 10), /down/);
  assert.equal(throwing.size, 1, 'a failed round keeps every committable');
  const stubborn = new PendingCommittables<string>();
  stubborn.add(2, ['x']);
  const c = committer<string>((_, r) => r.retryLater());
  await stubborn.commitUpTo(c, 2, 1);
  await assert.rejects(stubborn.commitUpTo(c, 2, 1), /checkpoint 2 was still not committed after 1 retries/);
});

test('state entries round-trip through a codec and come back in checkpoint order from several old subtasks', () => {
  class Txn {
    constructor(readonly id: string) {}
  }
  const codec: PlainDataCodec<Txn> = { version: 3, toPlain: (t) => ({ id: t.id }), fromPlain: (p, v) => new Txn(`${(p as { id: string }).id}@v${v}`) };
  const a = new PendingCommittables<Txn>();
  a.add(5, [new Txn('a5')]);
  const b = new PendingCommittables<Txn>();
  b.add(2, [new Txn('b2')]);
  b.add(7, [new Txn('b7')]);
  const entries = [...a.toState(codec, 'the sink'), ...b.toState(codec, 'the sink')];
  assert.deepEqual(structuredClone(entries), entries, 'entries are plain data');
  const restored = new PendingCommittables<Txn>();
  restored.restore(entries, codec);
  assert.equal(restored.highestCheckpointId(), 7);
  const back = restored.toState({ ...codec, toPlain: (t) => t.id }, 'the sink');
  assert.deepEqual(
    back.map((e) => [e.checkpointId, e.committable]),
    [
      [2, 'b2@v3'],
      [5, 'a5@v3'],
      [7, 'b7@v3'],
    ],
  );
});

test('only plain data goes into a checkpoint: class instances, functions and cycles are refused with the sink named', () => {
  assertPlainData({ a: [1, 'x', null, true, 2n, new Uint8Array(2), { b: undefined }] }, 'a committable', undefined);
  assertPlainData(Object.create(null), 'a committable', undefined);
  class Handle {}
  assert.throws(() => assertPlainData({ h: new Handle() }, 'a committable of sink "files"', 'committableCodec'), /a committable of sink "files" is not plain data: it holds an instance of Handle.*committableCodec/);
  assert.throws(() => assertPlainData([() => 1], 'x', undefined), /holds a function/);
  assert.throws(() => assertPlainData(new Map(), 'x', undefined), /instance of Map/);
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  assert.throws(() => assertPlainData(cyclic, 'x', undefined), /cycle/);
  const shared = { s: 1 };
  assertPlainData({ a: shared, b: shared }, 'a value shared twice (not a cycle)', undefined);
  const p = new PendingCommittables<unknown>();
  p.add(1, [new Handle()]);
  assert.throws(() => p.toState(undefined, 'sink "files"'), /a committable of sink "files" is not plain data/);
});
