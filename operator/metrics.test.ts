import { describe, expect, it } from 'vitest';
import { PRODUCT_VERSION } from '../core/version.ts';
import { createMetrics, forgetGenomeConditions, recordGenomeConditions } from './metrics.ts';

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
      'genome_condition',
      'genome_operator_process_resident_memory_bytes',
    ]) {
      expect(text).toContain(`# TYPE ${name}`);
    }
  });

  it('says which version runs on which Node, as build_info', async () => {
    const text = await createMetrics().registry.metrics();
    expect(text).toContain(
      `genome_operator_build_info{version="${PRODUCT_VERSION}",node_version="${process.version}"} 1`,
    );
  });

  it("serves Node's process metrics under their standard names, and under the older prefixed ones", async () => {
    const text = await createMetrics().registry.metrics();
    for (const name of [
      'process_resident_memory_bytes',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'genome_operator_nodejs_heap_size_used_bytes',
    ])
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
  });
});

describe('recordGenomeConditions', () => {
  const series = async (metrics: ReturnType<typeof createMetrics>) =>
    (await metrics.registry.metrics()).split('\n').filter((l) => l.startsWith('genome_condition{'));

  it('sets 1 on the current status of Verified and Ready and 0 on the others, replacing what was set before', async () => {
    const metrics = createMetrics();
    const genome = { namespace: 'team-a', name: 'totk' };
    recordGenomeConditions(metrics.genomeConditions, genome, [
      { type: 'Verified', status: 'True' },
      { type: 'Ready', status: 'True' },
    ]);
    recordGenomeConditions(metrics.genomeConditions, genome, [
      { type: 'Verified', status: 'False' },
      { type: 'Ready', status: 'False' },
      { type: 'TrustExpiring', status: 'True' },
    ]);
    const labels = (condition: string, status: string) =>
      `genome_condition{namespace="team-a",name="totk",condition="${condition}",status="${status}"}`;
    expect((await series(metrics)).sort()).toEqual(
      [
        `${labels('Verified', 'True')} 0`,
        `${labels('Verified', 'False')} 1`,
        `${labels('Verified', 'Unknown')} 0`,
        `${labels('Ready', 'True')} 0`,
        `${labels('Ready', 'False')} 1`,
        `${labels('Ready', 'Unknown')} 0`,
        `${labels('TrustExpiring', 'True')} 1`,
        `${labels('TrustExpiring', 'False')} 0`,
      ].sort(),
    );
  });

  it('says Unknown for a condition the status does not have yet', async () => {
    const metrics = createMetrics();
    recordGenomeConditions(metrics.genomeConditions, { namespace: 'n', name: 'g' }, [
      { type: 'Verified', status: 'False' },
    ]);
    expect(await series(metrics)).toContain(
      'genome_condition{namespace="n",name="g",condition="Ready",status="Unknown"} 1',
    );
  });

  it('says TrustExpiring False when the status does not carry it (the operator sets it only while True)', async () => {
    const metrics = createMetrics();
    recordGenomeConditions(metrics.genomeConditions, { namespace: 'n', name: 'g' }, [
      { type: 'Verified', status: 'True' },
    ]);
    const lines = await series(metrics);
    expect(lines).toContain(
      'genome_condition{namespace="n",name="g",condition="TrustExpiring",status="False"} 1',
    );
    expect(lines).toContain(
      'genome_condition{namespace="n",name="g",condition="TrustExpiring",status="True"} 0',
    );
    expect(lines.filter((l) => l.includes('TrustExpiring'))).toHaveLength(2);
  });

  it("removes a Genome's series when it is gone, and only its own", async () => {
    const metrics = createMetrics();
    const conditions = [{ type: 'Verified', status: 'True' }];
    recordGenomeConditions(metrics.genomeConditions, { namespace: 'n', name: 'a' }, conditions);
    recordGenomeConditions(metrics.genomeConditions, { namespace: 'n', name: 'b' }, conditions);
    forgetGenomeConditions(metrics.genomeConditions, { namespace: 'n', name: 'a' });
    const left = await series(metrics);
    expect(left).toHaveLength(8);
    expect(left.every((l) => l.includes('name="b"'))).toBe(true);
  });
});
