/** What the router shows: an element it mounts, refreshed by the poll loop. */
export interface Page {
  readonly el: HTMLElement;
  /** Reads the API and updates `el`; called when mounted and then every poll. */
  refresh(): Promise<void>;
  /** Called when the page is left. */
  dispose?(): void;
}
