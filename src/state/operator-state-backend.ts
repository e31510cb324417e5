/**
 * Non-keyed operator state (Flink's OperatorStateBackend): list states that belong to one
 * parallel subtask, e.g. a source's offsets. What happens to them on rescaling is part of the
 * state's declaration: 'split' state is divided among the new subtasks, 'union' state is given
 * to every new subtask in full (each then picks what it needs).
 *
 * Operator state is expected to be small, so snapshots copy it synchronously.
 */

import type { ListState, ListStateDescriptor } from '../api/state.ts';

export type OperatorStateMode = 'split' | 'union';

/** One operator list state as a snapshot holds it. */
export interface OperatorStateSnapshotData {
  readonly name: string;
  readonly mode: OperatorStateMode;
  readonly values: unknown[];
}

/** get() returns the stored array itself; snapshots copy it. */
class OperatorListState<T> implements ListState<T> {
  values: T[] = [];

  get(): T[] {
    return this.values;
  }

  add(value: T): void {
    this.values.push(value);
  }

  addAll(values: Iterable<T>): void {
    for (const value of values) this.values.push(value);
  }

  update(values: Iterable<T>): void {
    this.values = Array.from(values);
  }

  clear(): void {
    this.values = [];
  }
}

interface Registered {
  readonly mode: OperatorStateMode;
  readonly state: OperatorListState<unknown>;
}

/**
 * The operator state of one subtask. Every state backend may use DefaultOperatorStateBackend:
 * operator state is small and travels inside the checkpoint's operator blob, not in a backend's
 * own files.
 */
export interface OperatorStateBackend {
  /** Split-redistributed on rescale: each element goes to exactly one new subtask. */
  getListState<T>(d: ListStateDescriptor<T>): ListState<T>;
  /** Union-redistributed on rescale: every new subtask receives all elements of all old subtasks. */
  getUnionListState<T>(d: ListStateDescriptor<T>): ListState<T>;
  /** A deep copy of every state, including empty ones (their mode must survive a restore). */
  snapshot(): OperatorStateSnapshotData[];
  /**
   * Replaces the named states with copies of the given values; several parts with the same name
   * are concatenated in order. A name already registered with the other mode is an error.
   */
  restore(data: readonly OperatorStateSnapshotData[]): void;
}

/** Operator list states on the heap; snapshots and restores copy the values. */
export class DefaultOperatorStateBackend implements OperatorStateBackend {
  readonly #states = new Map<string, Registered>();

  /** Split-redistributed on rescale: each element goes to exactly one new subtask. */
  getListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.#get(d.name, 'split').state as OperatorListState<T>;
  }

  /** Union-redistributed on rescale: every new subtask receives all elements of all old subtasks. */
  getUnionListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.#get(d.name, 'union').state as OperatorListState<T>;
  }

  /** A deep copy of every state, including empty ones (their mode must survive a restore). */
  snapshot(): OperatorStateSnapshotData[] {
    const out: OperatorStateSnapshotData[] = [];
    for (const [name, { mode, state }] of this.#states) {
      out.push({ name, mode, values: structuredClone(state.values) });
    }
    return out;
  }

  /**
   * Replaces the named states with copies of the given values; several parts with the same name
   * are concatenated in order. A name already registered with the other mode is an error.
   */
  restore(data: readonly OperatorStateSnapshotData[]): void {
    const merged = new Map<string, { mode: OperatorStateMode; values: unknown[] }>();
    for (const part of data) {
      const seen = merged.get(part.name);
      if (seen === undefined) merged.set(part.name, { mode: part.mode, values: [...part.values] });
      else if (seen.mode !== part.mode) throw modeConflict(part.name, seen.mode, part.mode);
      else seen.values.push(...part.values);
    }
    for (const [name, { mode, values }] of merged) {
      this.#get(name, mode).state.values = structuredClone(values);
    }
  }

  #get(name: string, mode: OperatorStateMode): Registered {
    let registered = this.#states.get(name);
    if (registered === undefined) {
      registered = { mode, state: new OperatorListState() };
      this.#states.set(name, registered);
    } else if (registered.mode !== mode) {
      throw modeConflict(name, registered.mode, mode);
    }
    return registered;
  }
}

/**
 * Redistributes the operator state of `perOldSubtask.length` subtasks (one snapshot per old
 * subtask, in subtask order) over `newParallelism` subtasks. Every new subtask gets an entry for
 * every state name (possibly with no values), in order of first appearance.
 *
 * - 'split': the lists are concatenated in old-subtask order and dealt out in contiguous ranges
 *   as even as possible: with n elements over p subtasks, the first n % p subtasks get
 *   ceil(n / p) elements and the rest floor(n / p), preserving order (as Flink's default
 *   repartitioner does).
 * - 'union': every new subtask gets the whole concatenation.
 *
 * The same name declared with both modes is an error. Values are not copied: restore copies.
 */
export function redistributeOperatorState(
  perOldSubtask: readonly (readonly OperatorStateSnapshotData[])[],
  newParallelism: number,
): OperatorStateSnapshotData[][] {
  if (!Number.isInteger(newParallelism) || newParallelism < 1) {
    throw new RangeError(`newParallelism must be a positive integer, got ${newParallelism}`);
  }
  const byName = new Map<string, { mode: OperatorStateMode; values: unknown[] }>();
  for (const snapshot of perOldSubtask) {
    for (const part of snapshot) {
      const seen = byName.get(part.name);
      if (seen === undefined) byName.set(part.name, { mode: part.mode, values: [...part.values] });
      else if (seen.mode !== part.mode) throw modeConflict(part.name, seen.mode, part.mode);
      else seen.values.push(...part.values);
    }
  }
  const out: OperatorStateSnapshotData[][] = [];
  for (let i = 0; i < newParallelism; i++) out.push([]);
  for (const [name, { mode, values }] of byName) {
    if (mode === 'union') {
      for (const subtask of out) subtask.push({ name, mode, values: [...values] });
      continue;
    }
    const base = Math.floor(values.length / newParallelism);
    const extra = values.length % newParallelism;
    let from = 0;
    for (let i = 0; i < newParallelism; i++) {
      const to = from + base + (i < extra ? 1 : 0);
      out[i]!.push({ name, mode, values: values.slice(from, to) });
      from = to;
    }
  }
  return out;
}

function modeConflict(name: string, a: OperatorStateMode, b: OperatorStateMode): Error {
  return new Error(`operator state '${name}' is declared both as ${a} list state and as ${b} list state`);
}
