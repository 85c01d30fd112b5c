/** Key pairs and trusted keys for tests: fresh ones, and the repository's published TEST key. */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_KEYS_ANNOTATION, TRUSTED_KEYS_LABEL } from '../../core/api.ts';
import { parseTrustedKeys, type TrustedKey } from '../../core/trust.ts';

const TOTK_PRIVATE_KEY = join(
  import.meta.dirname,
  '..',
  'fixtures',
  'keys',
  'TEST-ONLY-totk-key-001.TEST-ONLY-private-key.b64',
);

/** A signing key of a test: key id, public key (base64 SPKI DER) and private key object. */
export interface TestKeyPair {
  keyId: string;
  publicKey: string;
  privateKey: KeyObject;
}

const spki = (key: KeyObject): string =>
  key.export({ format: 'der', type: 'spki' }).toString('base64');

/** Returns a fresh Ed25519 key pair named `keyId`. */
export function keyPair(keyId: string): TestKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { keyId, publicKey: spki(publicKey), privateKey };
}

/**
 * Returns the published TEST key that signs genomes/TOTK_ROOT_v1.0.0 (trusted only as a test
 * key). The same key on every call; its private half is public, so it proves nothing.
 */
export function totkKeyPair(): TestKeyPair {
  const der = readFileSync(TOTK_PRIVATE_KEY, 'utf8').trim();
  const privateKey = createPrivateKey({
    key: Buffer.from(der, 'base64'),
    format: 'der',
    type: 'pkcs8',
  });
  return {
    keyId: 'TEST-ONLY-totk-key-001',
    publicKey: spki(createPublicKey(privateKey)),
    privateKey,
  };
}

/**
 * Returns the trusted keys of the given public keys (`test` marks a test key), as a cluster's
 * trust Secrets yield them; throws if one is refused, which is a broken fixture.
 */
export function trusted(
  ...keys: { keyId: string; publicKey: string; test?: boolean }[]
): TrustedKey[] {
  const set = parseTrustedKeys(
    keys.map((k) => ({
      keyId: k.keyId,
      value: k.publicKey,
      source: 'test',
      test: k.test ?? false,
    })),
  );
  if (set.problems.length > 0) throw new Error(set.problems.map((p) => p.message).join('; '));
  return set.keys;
}

/**
 * Returns the trust Secret `name` in `namespace` holding `keys` (key id → base64 SPKI),
 * labelled so the operator and the webhook watch it, with `testKeys` marked as test keys.
 */
export function trustSecret(
  namespace: string,
  name: string,
  keys: Record<string, string>,
  testKeys: string[] = [],
) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name,
      namespace,
      labels: { [TRUSTED_KEYS_LABEL]: 'true' },
      annotations: { [TEST_KEYS_ANNOTATION]: testKeys.join(',') },
    },
    stringData: keys,
  };
}
