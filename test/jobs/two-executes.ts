/** A job module with two execute() calls: every pipeline copy must skip the first to reach the second. */
import { StreamExecutionEnvironment } from 'weir';

const first = StreamExecutionEnvironment.getExecutionEnvironment();
first.setParallelism(1);
first.fromElements('first job').print();
await first.execute('first');

const second = StreamExecutionEnvironment.getExecutionEnvironment();
second.setParallelism(2);
second.fromSequence(1, 4).keyBy((n) => n % 2).sum().print('second');
await second.execute('second');
