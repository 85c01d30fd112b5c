import { describe, expect, it } from 'vitest';
import {
  CONDITION_READY,
  CONDITION_VERIFIED,
  GENOME_API_VERSION,
  SHORT_ID_LENGTH,
  shortGenomeId,
} from './api.ts';
import { genomeCrd } from './crd.ts';

describe('the API names', () => {
  it('give the short id the printer column shows', () => {
    expect(shortGenomeId('0123456789abcdef0123')).toBe('0123456789ab');
    expect(SHORT_ID_LENGTH).toBe(12);
  });

  it('agree with the CRD: its version and the condition the Verified column reads', () => {
    const crd = genomeCrd() as any;
    expect(`${crd.spec.group}/${crd.spec.versions[0].name}`).toBe(GENOME_API_VERSION);
    const columns = crd.spec.versions[0].additionalPrinterColumns.map((c: any) => c.jsonPath);
    expect(columns).toContain(`.status.conditions[?(@.type=="${CONDITION_VERIFIED}")].status`);
    expect(CONDITION_READY).toBe('Ready');
  });
});
