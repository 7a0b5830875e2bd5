/**
 * The upstream health gauge, `portcullis_reverse_proxy_upstreams_healthy{upstream}` (Caddy's
 * `caddy_reverse_proxy_upstreams_healthy`): 1 when an upstream is healthy, 0 when not.
 */
import type { Gauge } from 'prom-client';
import type { MetricsKit } from '../../kernel/metrics.ts';

const NAME = 'portcullis_reverse_proxy_upstreams_healthy';

/** The gauge in this registry, registered on first use (the registry outlives config reloads). */
export function upstreamHealthGauge({ registry, client }: MetricsKit): Gauge<'upstream'> {
  const existing = registry.getSingleMetric(NAME);
  if (existing !== undefined) return existing as Gauge<'upstream'>;
  return new client.Gauge({
    name: NAME,
    help: 'Health of each reverse_proxy upstream by active and passive checks (1 healthy, 0 not)',
    labelNames: ['upstream'],
    registers: [registry],
  });
}
