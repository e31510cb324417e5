/**
 * Names of the prepared transactions of PostgresTwoPhaseCommitSink, and the rule that decides,
 * when a writer starts, which prepared transactions left by earlier runs it must roll back.
 *
 * A name (PostgreSQL's gid) is `weir:<sinkId>:<subtask>:<after>:<n>`:
 *  - sinkId: given by the user and stable across runs of the job (the job id changes when a job is
 *    resumed with `weir run -s`, so it cannot serve); it is the sink's transactional-id prefix;
 *  - subtask: the writer's subtask index;
 *  - after: the id of the last checkpoint whose barrier the writer had passed when it prepared the
 *    transaction (the restored checkpoint's id before its first barrier; 0 on a fresh start). The
 *    transaction holds the records written after that barrier, so it belongs to a later checkpoint;
 *  - n: how many transactions this writer prepared before, so names never repeat within a writer.
 *
 * Restoring checkpoint c: the committables in c were prepared at barriers up to c, so by writers
 * that had passed at most the barrier before c: their `after` is below c. Every transaction
 * prepared after barrier c (by the run that went on after c, or by a run that restored c and
 * failed before another checkpoint completed) has `after` >= c: nothing will ever commit it, and it
 * is rolled back. Those below c are committed already or are among the committables the restore
 * commits again, and are left alone. Checkpoint ids only grow, also across `weir run -s` (a resumed
 * job numbers its checkpoints after the one it restored), which is what makes the comparison hold.
 * On a fresh start (nothing restored) nothing can be committed later, so every prepared
 * transaction of the sink is rolled back.
 *
 * Which writer rolls back what: the one with subtask index `subtask mod parallelism` of the name.
 * A writer looks before it prepares anything, and no other writer prepares under its index, so it
 * never rolls back a transaction of the current run; names of subtasks beyond the new parallelism
 * (after a scale-down) are handled by the writer their index wraps around to.
 */

/** What PostgreSQL allows in a gid: at most 200 bytes. */
const MAX_GID_LENGTH = 200;
const SINK_ID = /^[A-Za-z0-9_.-]{1,120}$/;

export interface TransactionName {
  readonly sinkId: string;
  readonly subtask: number;
  /** The last checkpoint whose barrier the writer had passed (0: none). */
  readonly after: number;
  readonly n: number;
}

export function requireValidSinkId(sinkId: string): void {
  if (!SINK_ID.test(sinkId)) {
    throw new Error(`sinkId must be 1 to 120 characters of letters, digits, '_', '.' or '-' (it names the sink's prepared transactions), got ${JSON.stringify(sinkId)}`);
  }
}

/** The part every name of this sink starts with. */
export function transactionPrefix(sinkId: string): string {
  return `weir:${sinkId}:`;
}

export function formatTransactionName(t: TransactionName): string {
  const gid = `${transactionPrefix(t.sinkId)}${t.subtask}:${t.after}:${t.n}`;
  if (gid.length > MAX_GID_LENGTH) throw new Error(`transaction name ${gid} is longer than PostgreSQL's ${MAX_GID_LENGTH} characters`);
  return gid;
}

/** The parts of a name of this sink; undefined for a gid of anything else. */
export function parseTransactionName(gid: string, sinkId: string): TransactionName | undefined {
  const prefix = transactionPrefix(sinkId);
  if (!gid.startsWith(prefix)) return undefined;
  const parts = gid.slice(prefix.length).split(':');
  if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) return undefined;
  const [subtask, after, n] = parts.map(Number) as [number, number, number];
  return { sinkId, subtask, after, n };
}

/** Where a writer starts: its subtask, the parallelism, and the checkpoint restored (undefined: a fresh start). */
export interface WriterStart {
  readonly subtask: number;
  readonly parallelism: number;
  readonly restoredCheckpointId: number | undefined;
}

/** Whether the writer starting at `start` must roll back the prepared transaction `t` (see the header). */
export function mustRollBack(t: TransactionName, start: WriterStart): boolean {
  if (t.subtask % start.parallelism !== start.subtask) return false;
  return start.restoredCheckpointId === undefined || t.after >= start.restoredCheckpointId;
}
