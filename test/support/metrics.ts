import type { Registry } from 'prom-client';

/**
 * The sum of a metric's values whose labels include `labels`, read from `registry`: a counter
 * or gauge by its name, a histogram's count or sum by `<name>_count` / `<name>_sum`.
 */
export async function metricSum(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const base = name.replace(/_(count|sum)$/, '');
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === base);
  const values = (metric?.values ?? []) as {
    labels: Record<string, unknown>;
    value: number;
    metricName?: string;
  }[];
  return values
    .filter((v) => (v.metricName ?? name) === name)
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}
