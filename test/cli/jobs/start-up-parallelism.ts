/**
 * A job whose parallelism and execution mode its arguments set in code, whatever the command
 * line guessed: `start-up-parallelism.ts [parallelism] [inline]`. Prints 10, 20, … 60.
 */
import { StreamExecutionEnvironment } from 'weir';

const [parallelism, mode] = process.argv.slice(2);
const env = StreamExecutionEnvironment.getExecutionEnvironment();
if (parallelism) env.setParallelism(Number(parallelism));
if (mode === 'inline') env.setExecutionMode('inline');
env
  .fromSequence(1, 6)
  .map((n) => n * 10)
  .print();
await env.execute('start-up parallelism');
