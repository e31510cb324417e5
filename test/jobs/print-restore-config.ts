/**
 * E2E fixture for `weir run -s <path> [-n]`: prints the savepoint restore settings and the
 * configuration keys behind them, then runs a trivial pipeline (which fails to start when the
 * path is not a checkpoint or savepoint).
 *
 *   args[0]: 'override' to call setSavepointRestoreSettings(none()) in the job's code
 *
 * Imported again in every worker thread: the launcher prints the settings it sees; the pipeline
 * prints the ones each rebuilt copy saw, through the print sink (one source subtask).
 */
import { isMainThread } from 'node:worker_threads';
import { SavepointRestoreSettings, StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(1);
if (process.argv[2] === 'override') env.setSavepointRestoreSettings(SavepointRestoreSettings.none());

const settings = env.getSavepointRestoreSettings();
const config = env.getConfiguration();
if (isMainThread) {
  console.log(`restoreSavepoint=${settings.restoreSavepoint()}`);
  console.log(`restorePath=${settings.getRestorePath() ?? '<none>'}`);
  console.log(`allowNonRestoredState=${settings.allowNonRestoredState()}`);
  console.log(`execution.savepoint.path=${config.get('execution.savepoint.path') ?? '<none>'}`);
  console.log(`execution.savepoint.ignore-unclaimed-state=${config.get('execution.savepoint.ignore-unclaimed-state')}`);
}
env.fromElements(`pipeline: ${settings.toString()}`).print();
await env.execute('print restore config');
