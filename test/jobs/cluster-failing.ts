/** Cluster fixture: user code throws on one record and restarts are off, so the job fails. Imports only 'weir'. */
import { RestartStrategies, StreamExecutionEnvironment } from 'weir';

class RecordRejected extends Error {
  override readonly name = 'RecordRejected';
}

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setRestartStrategy(RestartStrategies.noRestart());
env
  .fromSequence(1, 100)
  .map((n) => {
    if (n === 42) throw new RecordRejected(`record ${n} is not welcome`);
    return n;
  })
  .name('picky map')
  .addSink(() => {})
  .name('discard');
await env.execute('cluster failing');
