/**
 * GET /metrics: every metric of the cluster in Prometheus's text format (as the Prometheus
 * reporter's endpoint serves it, src/metrics/), so that a scrape needs no port of its own.
 */
import { ClusterMetrics } from '../../metrics/cluster-metrics.ts';
import { prometheusText } from '../../metrics/prometheus-format.ts';
import type { RestModule } from '../rest-module.ts';

export const metricsRoutes: RestModule = (routes, { dispatcher }) => {
  const metrics = new ClusterMetrics(dispatcher);
  routes.get('/metrics', async (c) => {
    const { text, contentType } = await prometheusText(metrics.snapshot());
    return c.body(text, 200, { 'content-type': contentType });
  });
};
