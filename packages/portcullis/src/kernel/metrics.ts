/**
 * Prometheus support, loaded only when a config asks for metrics: prom-client and its
 * dependencies cost ~15 MB of resident memory, which a front door without a `metrics`
 * endpoint should not pay. The kit is created once per process and outlives reloads, so
 * counters do not reset when the config changes.
 */
import type * as PromClient from 'prom-client';

export interface MetricsKit {
  registry: PromClient.Registry;
  client: typeof PromClient;
}

export async function loadMetricsKit(): Promise<MetricsKit> {
  const client = await import('prom-client');
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  return { registry, client };
}
