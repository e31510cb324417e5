/**
 * The golden pipelines for `weir run`: runs test/jobs/golden.ts with the remaining arguments and
 * writes what it collected to the JSON file named by the first argument.
 *
 *   weir run test/jobs/golden-to-file.ts <out.json> <variant> <N> [options]
 */
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const out = process.argv[2]!;
process.argv.splice(2, 1);
const collected = (await import('./golden.ts')).collected as unknown[];
if (isMainThread) writeFileSync(out, JSON.stringify(collected));
