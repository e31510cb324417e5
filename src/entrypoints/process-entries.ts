/**
 * The files the cluster's processes start from. The cluster layer starts processes but does not
 * know where their entry files are (they are above it); callers hand these paths down.
 */
import { fileURLToPath } from 'node:url';

/** `.ts` in the sources, `.js` once compiled into dist/: the extension of this very file. */
const EXTENSION = import.meta.url.slice(import.meta.url.lastIndexOf('.'));

const entry = (name: string): string => fileURLToPath(new URL(`./${name}${EXTENSION}`, import.meta.url));

/** The JobManager process (jobmanager-main.ts). */
export const JOBMANAGER_ENTRY = entry('jobmanager-main');
/** A TaskManager process (taskmanager-main.ts). */
export const TASKMANAGER_ENTRY = entry('taskmanager-main');
