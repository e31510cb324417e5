/**
 * Whether, and from where, a job starts from a savepoint or retained checkpoint (Flink's
 * SavepointRestoreSettings). Backed by the configuration keys `execution.savepoint.path` and
 * `execution.savepoint.ignore-unclaimed-state`; `weir run -s <path> [-n]` sets the same keys.
 */
export class SavepointRestoreSettings {
  static readonly #NONE = new SavepointRestoreSettings(undefined, false);

  readonly #restorePath: string | undefined;
  readonly #allowNonRestoredState: boolean;

  private constructor(restorePath: string | undefined, allowNonRestoredState: boolean) {
    this.#restorePath = restorePath;
    this.#allowNonRestoredState = allowNonRestoredState;
    Object.freeze(this);
  }

  /** No restore: the job starts with empty state. */
  static none(): SavepointRestoreSettings {
    return SavepointRestoreSettings.#NONE;
  }

  /**
   * Restore from the savepoint or retained checkpoint at `path` (a directory, its `_metadata`
   * file, or a file:// URI of either). With `allowNonRestoredState`, state in the snapshot that
   * belongs to no operator of the new job is skipped instead of failing the restore.
   */
  static forPath(path: string, allowNonRestoredState = false): SavepointRestoreSettings {
    if (typeof path !== 'string' || path.length === 0) {
      throw new TypeError(`SavepointRestoreSettings.forPath: the savepoint path must be a non-empty string, got ${describe(path)}`);
    }
    if (typeof allowNonRestoredState !== 'boolean') {
      throw new TypeError(
        `SavepointRestoreSettings.forPath: allowNonRestoredState must be a boolean, got ${describe(allowNonRestoredState)}`,
      );
    }
    return new SavepointRestoreSettings(path, allowNonRestoredState);
  }

  /** Whether the job is to be restored from a snapshot. */
  restoreSavepoint(): boolean {
    return this.#restorePath !== undefined;
  }

  /** The snapshot path; undefined for none(). */
  getRestorePath(): string | undefined {
    return this.#restorePath;
  }

  /** Whether state that maps to no operator of the job may be left unrestored. */
  allowNonRestoredState(): boolean {
    return this.#allowNonRestoredState;
  }

  equals(other: unknown): boolean {
    return (
      other instanceof SavepointRestoreSettings &&
      other.#restorePath === this.#restorePath &&
      other.#allowNonRestoredState === this.#allowNonRestoredState
    );
  }

  toString(): string {
    return this.#restorePath === undefined
      ? 'SavepointRestoreSettings.none()'
      : `SavepointRestoreSettings.forPath(restorePath='${this.#restorePath}', allowNonRestoredState=${this.#allowNonRestoredState})`;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Object.prototype.toString.call(value);
}
