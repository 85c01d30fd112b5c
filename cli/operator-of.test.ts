import type { V1ValidatingWebhookConfiguration } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { operatorOf } from './operator-of.ts';

const configuration = (
  name: string,
  clientConfig: V1ValidatingWebhookConfiguration['webhooks'] extends (infer W)[] | undefined
    ? W extends { clientConfig: infer C }
      ? C
      : never
    : never,
): V1ValidatingWebhookConfiguration => ({
  metadata: { name: 'c' },
  webhooks: [{ name, clientConfig, admissionReviewVersions: ['v1'], sideEffects: 'None' }],
});

describe('operatorOf', () => {
  it("takes the namespace of the Genome webhook's Service, and the chart's Lease name beside it", () => {
    const chart = configuration('genomes.mathison.io', {
      service: { name: 'platform-genome-operator-webhook', namespace: 'platform' },
    });
    const other = configuration('other.example.com', {
      service: { name: 'x-webhook', namespace: 'team-a' },
    });
    expect(operatorOf([other, chart])).toEqual({
      namespace: 'platform',
      leaseName: 'platform-genome-operator',
    });
  });

  it('says nothing for a webhook called by URL (make dev), or no Genome webhook at all', () => {
    expect(
      operatorOf([configuration('genomes.mathison.io', { url: 'https://127.0.0.1:9443/' })]),
    ).toBe(undefined);
    expect(operatorOf([])).toBeUndefined();
  });
});
