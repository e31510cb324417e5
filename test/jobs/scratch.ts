import { StreamExecutionEnvironment } from 'weir';
const env = StreamExecutionEnvironment.getExecutionEnvironment();
env.setParallelism(Number(process.argv[2] ?? 2));
if (process.argv[3] === 'inline') env.setExecutionMode('inline');
env.fromSequence(1, 20).map((x) => x * 2).keyBy((x) => x % 3).sum().print('out');
const r = await env.execute('j1');
console.log('done in', r.netRuntime, 'ms');
