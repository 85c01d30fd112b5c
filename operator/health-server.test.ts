import { afterAll, describe, expect, it } from 'vitest';
import { serveHealth, type HealthServer } from './health-server.ts';
import { createMetrics } from './metrics.ts';

describe('serveHealth', () => {
  const metrics = createMetrics();
  let reason: string | undefined = 'caches not synced';
  let server: HealthServer;
  const get = async (path: string) => {
    server ??= await serveHealth(
      { notReady: () => reason, registry: metrics.registry },
      '127.0.0.1',
      0,
    );
    const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
    return { status: res.status, text: await res.text() };
  };
  afterAll(() => server?.close());

  it('healthz answers 200 while the process runs, ready or not', async () => {
    expect((await get('/healthz')).status).toBe(200);
  });

  it('readyz answers 503 with the reason until ready, then 200', async () => {
    expect(await get('/readyz')).toEqual({ status: 503, text: 'caches not synced\n' });
    reason = undefined;
    expect((await get('/readyz')).status).toBe(200);
  });

  it('metrics lists every operator metric with its current value', async () => {
    metrics.verifications.inc({ result: 'GENOME_UNTRUSTED_SIGNER' });
    metrics.trustedKeys.set(3);
    metrics.webhookCertificateExpiry.set(1_800_000_000);
    const { status, text } = await get('/metrics');
    expect(status).toBe(200);
    expect(text).toContain('genome_verifications_total{result="GENOME_UNTRUSTED_SIGNER"} 1');
    expect(text).toContain('genome_trusted_keys 3');
    expect(text).toContain('genome_webhook_certificate_expiry_timestamp_seconds 1800000000');
    for (const name of [
      'genome_reconcile_duration_seconds',
      'genome_queue_depth',
      'genome_queue_retries_total',
      'genome_trusted_keys_last_sync_timestamp_seconds',
      'genome_trusted_keys_refused',
      'genome_operator_leader',
      'genome_operator_process_resident_memory_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it('an unknown path is 404', async () => {
    expect((await get('/nope')).status).toBe(404);
  });
});
