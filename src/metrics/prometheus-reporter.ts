/**
 * The Prometheus endpoint of a process (Flink's PrometheusReporter): an HTTP server on the first
 * free port of its configured range that answers every GET with the metrics in Prometheus's text
 * format (prometheus-format.ts), read when the scrape comes. A pull reporter: nothing runs
 * between scrapes.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricSnapshot } from '../runtime/metrics/metric-snapshot.ts';
import { prometheusText } from './prometheus-format.ts';
import { MetricsConfigError, reporterConfigs, type PrometheusReporterConfig } from './reporter-config.ts';

export interface RunningReporter {
  readonly name: string;
  /** The port it listens on. */
  readonly port: number;
  close(): Promise<void>;
}

export interface MetricReporters {
  readonly reporters: readonly RunningReporter[];
  close(): Promise<void>;
}

/** What the endpoints serve: every metric of the process now. */
export type MetricsSource = () => readonly MetricSnapshot[] | Promise<readonly MetricSnapshot[]>;

function listen(server: Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (e.code === 'EADDRINUSE' || e.code === 'EACCES') resolve(false);
      else reject(e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Starts one Prometheus endpoint; rejects with MetricsConfigError when no port of the range is free. */
export async function startPrometheusReporter(config: PrometheusReporterConfig, source: MetricsSource): Promise<RunningReporter> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET is served\n');
      return;
    }
    void (async () => {
      try {
        const { text, contentType } = await prometheusText(await source(), { filterLabelValueCharacters: config.filterLabelValueCharacters });
        res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : text);
      } catch (e) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read the metrics: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    })();
  });
  for (let port = config.ports.from; port <= config.ports.to; port++) {
    if (await listen(server, port, config.host)) {
      return {
        name: config.name,
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      };
    }
  }
  const { from, to } = config.ports;
  // One port serves one process: a JobManager and a TaskManager on one host need a range.
  const hint = from === to ? `; every process of a cluster takes a port of its own, so give a range such as ${from}-${Math.min(from + 11, 65535)}` : '';
  throw new MetricsConfigError(`metrics.reporter.${config.name}.port: no free port in ${from === to ? from : `${from}-${to}`} on ${config.host}${hint}`);
}

/**
 * Starts every reporter `config` asks for (reporter-config.ts); none when it asks for none.
 * Throws MetricsConfigError on bad configuration, closing what already started.
 */
export async function startMetricReporters(config: Readonly<Record<string, string>>, source: MetricsSource): Promise<MetricReporters> {
  const configs = reporterConfigs(config);
  const reporters: RunningReporter[] = [];
  const close = async () => {
    await Promise.all(reporters.map((r) => r.close()));
  };
  try {
    for (const c of configs) reporters.push(await startPrometheusReporter(c, source));
  } catch (e) {
    await close();
    throw e;
  }
  return { reporters, close };
}
