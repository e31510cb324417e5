/**
 * PostgresUpsertSink on the shared server: the sink contract suite, keyed by the record itself (a
 * record written again after a restore replaces its own row, so the table holds every record
 * exactly once, which is what the suite's EXACTLY_ONCE checks; delivery itself is at least once,
 * see docs/connectors/pg.md), and the writer driven by hand: a batch with one key twice, and rows
 * keyed by record id.
 *
 * One parallelism for the failure cases: the upsert has no commit path, and what differs between
 * parallelisms (several writers, state split on restore) the rescale cases cover.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { SinkWriterContext, SinkWriterElementContext } from 'weir';
import { PostgresUpsertSink } from 'weir/connectors/pg';
import { sinkContract } from '../../contracts/sink.contract.ts';
import { query, SHARED_SERVER, sharedServerProblem, unavailable } from '../../support/postgres.ts';
import { upsertSinkCase } from './pg-cases.ts';

const context: SinkWriterContext<never> = {
  getJobId: () => 'test-job',
  getSubtaskIndex: () => 0,
  getNumberOfParallelSubtasks: () => 1,
  getAttemptNumber: () => 0,
  isRestored: () => false,
  getRestoredCheckpointId: () => undefined,
  getRecoverySettings: () => ({ checkpointIntervalMs: undefined, restartStrategy: { kind: 'none' } }),
  getRestoredState: () => [],
  currentProcessingTime: () => 0,
};
const withId = (id: string): SinkWriterElementContext => ({ timestamp: () => undefined, currentWatermark: () => -Infinity, recordId: () => id });

const problem = await sharedServerProblem();
if (problem !== undefined) {
  unavailable('PostgresUpsertSink', problem);
} else {
  // Half the default pace: records are visible as soon as a batch is sent, so the injected faults
  // need the input to outlast the first checkpoints, which come late on a loaded machine.
  sinkContract(upsertSinkCase, { parallelisms: [1], perMs: 2 });

  describe('PostgresUpsertSink writer', () => {
    const table = `weir_upsert_writer_${process.pid}`;
    after(() => query(SHARED_SERVER, `DROP TABLE IF EXISTS ${table}`));

    it('a batch holding one key twice keeps the last record; flush makes the batch visible to other sessions', async () => {
      await query(SHARED_SERVER, `DROP TABLE IF EXISTS ${table}`);
      await query(SHARED_SERVER, `CREATE TABLE ${table} (k text PRIMARY KEY, v integer NOT NULL)`);
      const sink = new PostgresUpsertSink<[string, number]>({ connection: SHARED_SERVER, table, columns: ['k', 'v'], keyColumns: ['k'], toRow: (r) => r, batchSize: 100 });
      const w = await sink.createWriter(context);
      for (const r of [['a', 1], ['b', 1], ['a', 2]] as [string, number][]) await w.write(r, withId('unused'));
      assert.deepEqual(await query(SHARED_SERVER, `SELECT * FROM ${table}`), [], 'buffered until the flush');
      await w.flush(false);
      assert.deepEqual(await query(SHARED_SERVER, `SELECT k, v FROM ${table} ORDER BY k`), [
        { k: 'a', v: 2 },
        { k: 'b', v: 1 },
      ]);
      await w.write(['b', 5], withId('unused'));
      await w.flush(true);
      await w.close();
      assert.deepEqual(await query(SHARED_SERVER, `SELECT k, v FROM ${table} ORDER BY k`), [
        { k: 'a', v: 2 },
        { k: 'b', v: 5 },
      ]);
    });

    it('keyed by record id, a replayed record (same id) replaces its row', async () => {
      await query(SHARED_SERVER, `DROP TABLE IF EXISTS ${table}`);
      await query(SHARED_SERVER, `CREATE TABLE ${table} (id text PRIMARY KEY, payload text NOT NULL)`);
      const sink = new PostgresUpsertSink<string>({ connection: SHARED_SERVER, table, columns: ['payload'], toRow: (r) => [r], recordIdColumn: 'id', batchSize: 2 });
      const first = await sink.createWriter(context);
      for (const [i, r] of ['x', 'y', 'x'].entries()) await first.write(r, withId(`op-0-0-${i}`));
      await first.flush(false);
      await first.close();
      // The replay after a restore: the same records with the same ids, plus one more.
      const replay = await sink.createWriter(context);
      for (const [i, r] of ['x', 'y', 'x', 'z'].entries()) await replay.write(r, withId(`op-0-0-${i}`));
      await replay.flush(true);
      await replay.close();
      assert.deepEqual(await query(SHARED_SERVER, `SELECT id, payload FROM ${table} ORDER BY id`), [
        { id: 'op-0-0-0', payload: 'x' },
        { id: 'op-0-0-1', payload: 'y' },
        { id: 'op-0-0-2', payload: 'x' },
        { id: 'op-0-0-3', payload: 'z' },
      ]);
    });
  });
}
