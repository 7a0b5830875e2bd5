/**
 * Prometheus metrics of requests, by site and route. Registered once per registry and kept
 * across reloads, so counters do not reset when the config changes.
 */
import type { Counter, Histogram } from 'prom-client';
import type { MetricsKit } from '../kernel/metrics.ts';

export interface HttpMetrics {
  observe(site: string, route: string, method: string, status: number, durationSeconds: number): void;
}

const REQUESTS = 'portcullis_http_requests_total';
const DURATION = 'portcullis_http_request_duration_seconds';
const LABELS = ['site', 'route', 'method', 'code'] as const;

/** Methods outside this set are counted as OTHER so clients cannot create unbounded label values. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE']);

export function createHttpMetrics({ registry, client }: MetricsKit): HttpMetrics {
  const requests =
    (registry.getSingleMetric(REQUESTS) as Counter<(typeof LABELS)[number]> | undefined) ??
    new client.Counter({ name: REQUESTS, help: 'HTTP requests handled, by site, route, method and status code.', labelNames: LABELS, registers: [registry] });
  const duration =
    (registry.getSingleMetric(DURATION) as Histogram<(typeof LABELS)[number]> | undefined) ??
    new client.Histogram({
      name: DURATION,
      help: 'Time from request arrival to the end of the response, in seconds.',
      labelNames: LABELS,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  return {
    observe(site, route, method, status, seconds) {
      const labels = { site, route, method: KNOWN_METHODS.has(method) ? method : 'OTHER', code: String(status) };
      requests.inc(labels);
      duration.observe(labels, seconds);
    },
  };
}
