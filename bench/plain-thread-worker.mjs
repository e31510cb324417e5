// One thread of the plain loop's parallel control (plain-threads.ts): loads the plain loop, says
// it is ready, runs it when told to, and reports its totals. Plain JavaScript, since a worker
// thread cannot take a .ts file as its entry; the loop itself is loaded through tsx.
import { parentPort, workerData } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';

register();
// In a clone, imports of weir resolve to its sources, as for every bench process (bin/node-ts.mjs).
const sourceHooks = new URL('../src/runtime/worker/source-hooks.mjs', import.meta.url);
if (existsSync(sourceHooks)) registerHooks(sourceHooks);
const { plainUserKeyed } = await import('./user-keyed-plain.ts');
const { kind, keys, n } = workerData;
parentPort.once('message', () => {
  const totals = plainUserKeyed(kind, keys, n);
  parentPort.postMessage(totals);
});
parentPort.postMessage('ready');
