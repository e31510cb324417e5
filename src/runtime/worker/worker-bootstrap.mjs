// Entry of every slot worker thread. A worker cannot start from a .ts file, so this file
// registers the TypeScript loader first; the worker's logic and the job module load after it.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
