/**
 * The model of a checkpoint's barrier timeline, free of the DOM (Node tests use it): per
 * subtask, from the checkpoint's trigger, the time until its first barrier arrived (start
 * delay), the alignment (first to last barrier), the synchronous and asynchronous parts of its
 * snapshot, and the rest until its acknowledgement; and a hint in plain words drawn from the
 * slowest subtask.
 */
import type { SubtaskCheckpoint } from './api-types.ts';
import { duration } from './format.ts';

export type PhaseName = 'start delay' | 'alignment' | 'sync' | 'async' | 'acknowledgement';

export interface Phase {
  name: PhaseName;
  /** ms after the trigger */
  from: number;
  to: number;
}

/** How a phase is named in sentences and the legend. */
export const PHASE_LABELS: Readonly<Record<PhaseName, string>> = {
  'start delay': 'start delay',
  alignment: 'alignment',
  sync: 'synchronous part',
  async: 'asynchronous part',
  acknowledgement: 'acknowledgement',
};

export const PHASE_COLOURS: Readonly<Record<PhaseName, string>> = {
  'start delay': '#e8a317',
  alignment: '#8e5fd0',
  sync: '#2f7fe0',
  async: '#22a06b',
  acknowledgement: '#a5adb8',
};

/** A subtask's phases, in order, from its acknowledged figures; undefined when it did not acknowledge. */
export function phasesOf(st: SubtaskCheckpoint): Phase[] | undefined {
  if (st.status !== 'completed' || st.end_to_end_duration === undefined) return undefined;
  const parts: [PhaseName, number][] = [
    ['start delay', st.start_delay ?? 0],
    ['alignment', st.alignment?.duration ?? 0],
    ['sync', st.checkpoint?.sync ?? 0],
    ['async', st.checkpoint?.async ?? 0],
  ];
  const out: Phase[] = [];
  let t = 0;
  for (const [name, d] of parts) {
    const len = Math.max(0, d);
    out.push({ name, from: t, to: t + len });
    t += len;
  }
  out.push({ name: 'acknowledgement', from: t, to: Math.max(t, st.end_to_end_duration) });
  return out;
}

export interface TimelineRow {
  vertex: string;
  parallelism: number;
  subtask: SubtaskCheckpoint;
}

const ADVICE: Readonly<Record<PhaseName, string>> = {
  'start delay':
    'The barrier reached this task late. Barriers travel with the records, so they queue behind data that is waiting to be processed: this points at backpressure upstream of it. Look in the graph for a back-pressured vertex (red stripe) before a busy one (red fill), and speed that one up or give it more parallelism; unaligned checkpoints let barriers overtake the queued data.',
  alignment:
    'The task waited, after the barrier arrived on one input, for it to arrive on the others: skew between its inputs, one of them slower or back-pressured. Unaligned checkpoints, or an aligned-checkpoint timeout, avoid the wait.',
  sync: 'The synchronous part holds the task still while it captures its state: large state kept on the heap or slow snapshotState code make it long.',
  async: 'Writing the snapshot to checkpoint storage took the time: look at the storage (the disk or network behind state.checkpoints.dir) and at the size of the state.',
  acknowledgement: 'The acknowledgement took long to reach the JobManager after the snapshot was written: the JobManager process may be overloaded.',
};

/** Quicker than this end to end, a checkpoint needs no advice. */
export const QUICK_MS = 50;

/** What the hint needs of the checkpoint itself. */
export interface HintCheckpoint {
  id: number;
  /** COMPLETED, FAILED or IN_PROGRESS */
  status: string;
  failure_message?: string | undefined;
}

const NOT_ACKNOWLEDGED =
  'Barriers reach a task late when records queue before it (backpressure upstream: look in the graph for a back-pressured vertex before a busy one), and a snapshot takes long when the state is large or the storage slow.';

/** Subtasks as "count per user (1/2, 2/2), enrich (2/2)". */
function subtaskList(rows: TimelineRow[]): string {
  const byVertex = new Map<string, string[]>();
  for (const r of rows) byVertex.set(r.vertex, [...(byVertex.get(r.vertex) ?? []), `${r.subtask.index + 1}/${r.parallelism}`]);
  return [...byVertex].map(([v, ids]) => `${v} (${ids.join(', ')})`).join(', ');
}

/**
 * The hint for a checkpoint. When subtasks did not acknowledge (it failed, or is still in
 * progress) it names them: the time went there. Otherwise it names the part that dominates the
 * slowest subtask, and what that suggests.
 */
export function checkpointHint(c: HintCheckpoint, rows: TimelineRow[]): { phase?: PhaseName; text: string } {
  let slowest: { row: TimelineRow; phases: Phase[]; e2e: number } | undefined;
  for (const row of rows) {
    const phases = phasesOf(row.subtask);
    if (!phases) continue;
    const e2e = phases[phases.length - 1]!.to;
    if (!slowest || e2e > slowest.e2e) slowest = { row, phases, e2e };
  }
  const pending = rows.filter((r) => r.subtask.status !== 'completed');
  if (pending.length > 0 && c.status !== 'COMPLETED') {
    const failed = c.status === 'FAILED';
    const head = failed ? `Checkpoint ${c.id} failed${c.failure_message ? `: ${c.failure_message.replace(/\.?$/, '.')}` : '.'}` : `Checkpoint ${c.id} is in progress.`;
    const acked = slowest ? ` The others acknowledged within ${duration(slowest.e2e)}.` : '';
    const verb = failed ? 'never acknowledged' : 'have not acknowledged yet';
    return { text: `${head} ${pending.length} of ${rows.length} subtasks ${verb}: ${subtaskList(pending)}.${acked} ${NOT_ACKNOWLEDGED}` };
  }
  if (!slowest) return { text: `No subtask has acknowledged checkpoint ${c.id}.` };
  const top = [...slowest.phases].sort((a, b) => b.to - b.from - (a.to - a.from))[0]!;
  const part = top.to - top.from;
  const who = `${slowest.row.vertex} (${slowest.row.subtask.index + 1}/${slowest.row.parallelism})`;
  const share = slowest.e2e > 0 ? Math.round((100 * part) / slowest.e2e) : 0;
  if (slowest.e2e < QUICK_MS) {
    return { phase: top.name, text: `Checkpoint ${c.id} was quick: its slowest subtask, ${who}, acknowledged after ${duration(slowest.e2e)}. Nothing to tune.` };
  }
  return {
    phase: top.name,
    text: `Checkpoint ${c.id}: its slowest subtask, ${who}, acknowledged after ${duration(slowest.e2e)}, ${share}% of it ${top.name === 'acknowledgement' ? 'waiting for the acknowledgement' : `in the ${PHASE_LABELS[top.name]}`} (${duration(part)}). ${ADVICE[top.name]}`,
  };
}
