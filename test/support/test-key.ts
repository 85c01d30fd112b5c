import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestSigner } from '../../core/test-fixtures.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * The published TEST key that signs genomes/TOTK_ROOT_v1.0.0 (a test fixture, trusted only as
 * a test key), as a signer for signWith. Its private half is public: it proves nothing.
 */
export function totkTestSigner(): TestSigner {
  const der = readFileSync(
    join(ROOT, 'test', 'fixtures', 'keys', 'TEST-ONLY-totk-key-001.TEST-ONLY-private-key.b64'),
    'utf8',
  ).trim();
  const privateKey = createPrivateKey({
    key: Buffer.from(der, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .toString('base64');
  return { keyId: 'TEST-ONLY-totk-key-001', publicKey, privateKey };
}
