import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { genomeId } from '../core/canonical.ts';
import { genome, keyPair, signedBy } from '../test/builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const work = mkdtempSync(join(tmpdir(), 'genome-boot-check-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const signer = keyPair('team-key');
const signed = genome(signedBy(signer));
const trust = [{ key_id: signer.keyId, alg: 'ed25519', public_key: signer.publicKey }];

/** Writes a mounted-ConfigMap directory and runs the init container's entry against it. */
function bootCheck(files: Record<string, string>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(work, 'mount-'));
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const result = spawnSync(TSX, [join(ROOT, 'cmd', 'genome-boot-check.ts')], {
    encoding: 'utf8',
    env: { ...process.env, MATHISON_GENOME_PATH: join(dir, 'genome.json'), ...env },
  });
  return { code: result.status, out: result.stdout + result.stderr };
}

const published = {
  'genome.json': JSON.stringify(signed, null, 2),
  'trusted-keys.json': JSON.stringify(trust),
};

describe('genome-boot-check (the init container)', () => {
  it('exits 0 and names the genome id when the mounted genome verifies and is the admitted one', () => {
    const result = bootCheck(published, { GENOME_EXPECTED_ID: genomeId(signed) });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toMatchObject({
      genomeId: genomeId(signed),
      signers: ['team-key'],
    });
  });

  it.each([
    [
      'a changed genome file',
      { 'genome.json': JSON.stringify({ ...signed, name: 'EVIL' }) },
      {},
      'GENOME_INVALID_SIGNATURE',
    ],
    ['no trusted keys beside it', { 'trusted-keys.json': undefined }, {}, 'TRUST_FILE_MISSING'],
    ['no genome', { 'genome.json': undefined }, {}, 'GENOME_MISSING'],
    [
      'another genome than the admitted one',
      {},
      { GENOME_EXPECTED_ID: 'a'.repeat(64) },
      'GENOME_ID_MISMATCH',
    ],
  ])('exits 1 with the code on %s', (_what, change, env, code) => {
    const files = Object.fromEntries(
      Object.entries({ ...published, ...change }).filter(([, text]) => text !== undefined),
    ) as Record<string, string>;
    const result = bootCheck(files, env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.out)).toMatchObject({ msg: 'genome refused', code });
  });
});
