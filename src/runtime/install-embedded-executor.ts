/**
 * Makes the embedded executor the process's executor unless one is registered already (a worker
 * or a cluster client registers its own first). Imported for this effect by the package entry
 * and by every process entry that runs jobs in-process, so `env.execute()` has something to call.
 */
import { executionRegistry } from '../api/execution-context.ts';
import { EmbeddedExecutor } from './embedded-executor.ts';

const registry = executionRegistry();
registry.executor ??= new EmbeddedExecutor();
