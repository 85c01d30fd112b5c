import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../core/log.ts';
import { DEFAULT_TRUST_POLICY } from '../core/trust-policy.ts';
import { DEFAULT_POLICY } from '../core/verify.ts';
import { PRODUCT_VERSION } from '../core/version.ts';
import { genome, keyPair, signedBy, trusted } from '../test/builders/index.ts';
import { createApp } from './app.ts';
import { ADMISSION_DURATION_BUCKETS, createWebhookMetrics } from './metrics.ts';

describe('createWebhookMetrics', () => {
  it('says which version runs on which Node, as build_info', async () => {
    const text = await createWebhookMetrics().registry.metrics();
    expect(text).toContain(
      `genome_webhook_build_info{version="${PRODUCT_VERSION}",node_version="${process.version}"} 1`,
    );
  });

  it("serves Node's process metrics under their standard names, and under the older prefixed ones", async () => {
    const text = await createWebhookMetrics().registry.metrics();
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'genome_webhook_process_resident_memory_bytes',
    ])
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  });

  it("has the API server's timeouts among its duration buckets: the chart's 5 s, 10 s, and the 30 s most", () => {
    expect(ADMISSION_DURATION_BUCKETS).toEqual(expect.arrayContaining([5, 10, 30]));
    expect(Math.max(...ADMISSION_DURATION_BUCKETS)).toBe(30);
  });
});

describe('the admission duration histogram', () => {
  it('observes each admission request by endpoint, whatever its answer', async () => {
    const alice = keyPair('alice');
    const keys = trusted(alice);
    const app = createApp({
      trust: {
        keys: () => keys,
        policies: () => [DEFAULT_TRUST_POLICY],
        namespaceLabels: () => ({}),
        synced: () => true,
      },
      certificateValid: () => true,
      policy: DEFAULT_POLICY,
      log: silentLogger,
    });
    const server = createServer(app).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const request = {
        uid: 'u-1',
        kind: { group: 'mathison.io', version: 'v1alpha1', kind: 'Genome' },
        operation: 'CREATE',
        object: { metadata: { name: 'g' }, spec: { genome: genome(signedBy(alice)) } },
      };
      const review = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request };
      for (const body of [JSON.stringify(review), 'not json'])
        await fetch(`${base}/validate-genome?timeout=5s`, { method: 'POST', body });
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(
        /^genome_webhook_admission_duration_seconds_count\{endpoint="validate-genome"\} 2$/m,
      );
      expect(text).toMatch(
        /^genome_webhook_admission_duration_seconds_bucket\{le="5",endpoint="validate-genome"\} 2$/m,
      );
      expect(text).not.toContain('admission_duration_seconds_count{endpoint="mutate-pod"} 1');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
