/**
 * A state file as a state backend sees it: something it handed to checkpoint storage, named by a
 * relative path with its size and checksum. State backends write and read files only through
 * handles like this one, never through the storage's layout, so a backend works with any storage.
 */

/**
 * Where a checkpoint state file goes: 'exclusive' files belong to one checkpoint and go with it;
 * 'shared' files may be referenced by later checkpoints too (incremental snapshots) and live as
 * long as one does; 'taskowned' files belong to the tasks. A savepoint keeps every file in its
 * own directory whatever the scope.
 */
export type StateFileScope = 'exclusive' | 'shared' | 'taskowned';

/** A file a subtask wrote for a checkpoint, relative to the checkpoint's directory (or `shared/`, `taskowned/`). */
export interface StateFileHandle {
  /** Relative path, e.g. `chk-7/op-<id>-3.state` or `shared/<name>`; never absolute, so checkpoints can be relocated. */
  readonly path: string;
  readonly size: number;
  /** sha256 of the file's payload, hex. */
  readonly checksum: string;
}
