/** E2E fixture: builds a pipeline and forgets to call env.execute(). */
import { StreamExecutionEnvironment } from 'weir';

const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.fromSequence(1, 10).map((x) => x * 2).print();
