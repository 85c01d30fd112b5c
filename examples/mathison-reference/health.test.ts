import { describe, expect, it } from 'vitest';
import { refuse } from '../../core/codes.ts';
import { declaring, genome, keyPair, withFields } from '../../test/builders/index.ts';
import { healthOf, shortDisplayId } from './health.ts';

const unsigned = genome(
  declaring(keyPair('team-key')),
  withFields({ build_manifest: { files: [{ path: 'a.ts', sha256: 'b'.repeat(64) }] } }),
);
const id = '0123456789abcdef'.repeat(4);

describe('the reference container /health', () => {
  it('shows the genome as upstream does, with the full id and the signers beside it', () => {
    const { statusCode, body } = healthOf({
      phase: 'ready',
      genome: unsigned,
      genomeId: id,
      signers: ['team-key'],
      manifestVerified: false,
    });
    expect(statusCode).toBe(200);
    expect(body).toEqual({
      status: 'healthy',
      bootStatus: 'ready',
      governance: {
        genome: {
          name: 'TEST_GENOME',
          version: '1.2.3',
          genome_id: '0123456789abcdef...',
          initialized: true,
          verified: true,
          manifestVerified: false,
          manifestFiles: 1,
          genome_id_full: id,
          verified_signers: ['team-key'],
        },
      },
    });
  });

  it('reports manifestVerified when the build manifest was checked at boot', () => {
    const ready = { phase: 'ready', genome: unsigned, genomeId: id, signers: [] };
    expect(healthOf({ ...ready, phase: 'ready', manifestVerified: true }).body).toMatchObject({
      governance: { genome: { manifestVerified: true, manifestFiles: 1 } },
    });
  });

  it('answers 503 unhealthy while booting, and with the code when refused', () => {
    expect(healthOf({ phase: 'booting' })).toMatchObject({
      statusCode: 503,
      body: {
        status: 'unhealthy',
        bootStatus: 'booting',
        governance: { genome: { verified: false } },
      },
    });
    const refusal = refuse('GENOME_INVALID_SIGNATURE', 'changed \u001b[31m');
    expect(healthOf({ phase: 'refused', refusal })).toMatchObject({
      statusCode: 503,
      body: { status: 'unhealthy', error: { code: 'GENOME_INVALID_SIGNATURE' } },
    });
    expect(JSON.stringify(healthOf({ phase: 'refused', refusal }).body)).not.toContain('\u001b');
  });

  it('shows 16 hex characters and an ellipsis', () => {
    expect(shortDisplayId('f'.repeat(64))).toBe(`${'f'.repeat(16)}...`);
  });
});
