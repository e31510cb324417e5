/** `weir start-cluster` and `weir stop-cluster`: a local cluster in the background. */
import { clusterDir, clusterFiles } from '../cluster/cluster-files.ts';
import type { Command } from 'commander';
import { UsageError, withProgress } from './cli-support.ts';
import { positiveInt, valueFlag, verbCommand } from './verb-command.ts';

export const START_USAGE = `Usage: weir start-cluster [options]

Starts a local cluster in the background: a JobManager process with the REST API and a
TaskManager process with worker-thread slots. Logs go to <dir>/log, the running cluster is
recorded in <dir>/cluster.json.

Options:
  --slots <n>      Slots of the TaskManager (default: the number of cores)
  --port <port>    REST port (default 8081; 0 picks a free one)
  --host <address> REST bind address (default 127.0.0.1, loopback only)
  --dir <path>     Cluster directory (default: $WEIR_CLUSTER_DIR, else <tmpdir>/weir-cluster)
  -D <key>=<value> Set a cluster option; the cluster reads metrics.* (metric reporters), e.g.
                   -D metrics.reporter.prom.factory.class=prometheus -D metrics.reporter.prom.port=9249-9260
  -h, --help       Show this help`;

export const STOP_USAGE = `Usage: weir stop-cluster [--dir <path>]

Stops the local cluster recorded in the cluster directory: running jobs are cancelled, the
TaskManager and the JobManager exit.

Options:
  --dir <path>     Cluster directory (default: $WEIR_CLUSTER_DIR, else <tmpdir>/weir-cluster)
  -h, --help       Show this help`;

export function startClusterVerb(): Command {
  let slots: number | undefined;
  let port = 8081;
  let host = '127.0.0.1';
  let dir: string | undefined;
  const config: Record<string, string> = {};
  const cmd = verbCommand('start-cluster', START_USAGE, async (operands) => {
    if (operands.length > 0) throw new UsageError(`unknown option ${operands[0]}`, START_USAGE);
    // Loaded by this verb only (every command line builds every verb).
    const [{ reporterConfigs }, { ClusterAlreadyRunningError, startCluster }, { JOBMANAGER_ENTRY }] = await Promise.all([
      import('../metrics/reporter-config.ts'),
      import('../cluster/cluster-control.ts'),
      import('../entrypoints/process-entries.ts'),
    ]);
    // Refused here rather than in the background process; a port already taken is found there.
    reporterConfigs(config);
    const d = clusterDir(dir);
    try {
      const info = await withProgress('starting the cluster', startCluster({ entry: JOBMANAGER_ENTRY, dir: d, host, port, config, ...(slots !== undefined ? { slots } : {}) }));
      console.log(`Started a weir cluster: REST API at ${info.restAddress}, ${info.slots} slot(s), JobManager pid ${info.pid}, TaskManager pid ${info.taskManagerPid}`);
      console.log(`Logs: ${clusterFiles(d).logDir}`);
      return 0;
    } catch (e) {
      if (e instanceof ClusterAlreadyRunningError) {
        console.error(`weir: ${e.message}`);
        return 1;
      }
      throw e;
    }
  });
  valueFlag(cmd, ['--slots'], 'a value', (v, flag) => (slots = positiveInt(v, flag, START_USAGE)));
  valueFlag(cmd, ['--port'], 'a value', (v) => {
    port = Number(v);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port needs a port number (0-65535), got ${v}`);
  });
  valueFlag(cmd, ['--host'], 'a value', (v) => (host = v));
  valueFlag(cmd, ['-D'], 'key=value', (kv) => {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`-D needs key=value, got "${kv}"`, START_USAGE);
    const key = kv.slice(0, eq);
    if (!key.startsWith('metrics.')) throw new UsageError(`-D ${key}: a cluster reads only metrics.* options (job options go to weir run -D)`, START_USAGE);
    config[key] = kv.slice(eq + 1);
  });
  return valueFlag(cmd, ['--dir'], 'a value', (v) => (dir = v));
}

export function stopClusterVerb(): Command {
  let dir: string | undefined;
  const cmd = verbCommand('stop-cluster', STOP_USAGE, async (operands) => {
    if (operands.length > 0) throw new UsageError(`unknown option ${operands[0]}`, STOP_USAGE);
    const d = clusterDir(dir);
    const { stopCluster } = await import('../cluster/cluster-control.ts');
    const stopped = await withProgress('stopping the cluster', stopCluster(d));
    if (!stopped) {
      console.log(`No weir cluster is running from ${d}.`);
      return 0;
    }
    console.log(`Stopped the weir cluster at ${stopped.restAddress} (JobManager pid ${stopped.pid}).`);
    return 0;
  });
  return valueFlag(cmd, ['--dir'], 'a value', (v) => (dir = v));
}
