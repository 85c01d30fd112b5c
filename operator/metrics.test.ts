import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('createMetrics', () => {
  it('registers every operator metric, with its current value', async () => {
    const metrics = createMetrics();
    metrics.verifications.inc({ result: 'GENOME_UNTRUSTED_SIGNER' });
    metrics.trustedKeys.set(3);
    metrics.webhookCertificateExpiry.set(1_800_000_000);
    const text = await metrics.registry.metrics();
    expect(text).toContain('genome_verifications_total{result="GENOME_UNTRUSTED_SIGNER"} 1');
    expect(text).toContain('genome_trusted_keys 3');
    expect(text).toContain('genome_webhook_certificate_expiry_timestamp_seconds 1800000000');
    for (const name of [
      'genome_trusted_keys_last_sync_timestamp_seconds',
      'genome_trusted_keys_refused',
      'genome_operator_leader',
      'genome_operator_process_resident_memory_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });
});
