import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { trustFromSecrets } from './trust.ts';
import { readTrustSecrets } from './trust-secret-read.ts';

const { publicKey, privateKey } = generateKeyPairSync('ed25519');
const spki = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
const b64 = (text: string) => Buffer.from(text).toString('base64');

const secret = (name: string, extra = '', data = `  prod-1: ${b64(spki)}\n`) =>
  `apiVersion: v1
kind: Secret
type: Opaque
metadata:
  name: ${name}
  namespace: genome-system
  uid: 0f0f
  labels:
    genome.mathison.io/trusted-keys: "true"
  annotations:
    genome.mathison.io/not-before: "2026-01-01T00:00:00Z"
    genome.mathison.io/not-after: "2027-01-01T00:00:00Z"
${extra}data:
${data}`;

describe('readTrustSecrets', () => {
  it('reads a Secret as kubectl prints it, and its window counts as in the cluster', () => {
    const secrets = readTrustSecrets(secret('prod-signers'), 's.yaml');
    expect(Array.isArray(secrets)).toBe(true);
    const set = trustFromSecrets(secrets as never);
    expect(set.problems).toEqual([]);
    expect(set.keys[0]?.holders).toEqual([
      {
        secret: 'prod-signers',
        test: false,
        notBefore: Date.parse('2026-01-01T00:00:00Z'),
        notAfter: Date.parse('2027-01-01T00:00:00Z'),
      },
    ]);
  });

  it('reads a List and stringData (what kubectl apply would store)', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${secret('a').replace(/\n/g, '\n  ')}\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n    labels: {genome.mathison.io/trusted-keys: "true"}\n  stringData:\n    dev-1: ${spki}\n`;
    const secrets = readTrustSecrets(list, 'l.yaml');
    const set = trustFromSecrets(secrets as never);
    expect(set.keys.map((k) => [k.keyId, k.holders?.[0]?.secret])).toEqual([
      ['prod-1', 'a'],
      ['dev-1', 'b'],
    ]);
  });

  it.each([
    [
      'a Secret without the trust label',
      secret('x').replace(/ {2}labels:\n.*\n/, ''),
      'TRUST_FILE_INVALID',
      /not labelled/,
    ],
    [
      'another kind',
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
      'TRUST_FILE_INVALID',
      /not a Secret/,
    ],
    [
      'data that is not base64',
      secret('x', '', '  k: "%%%"\n'),
      'TRUST_FILE_INVALID',
      /not base64/,
    ],
    ['no Secret at all', '# nothing\n', 'TRUST_FILE_INVALID', /no Secret/],
    ['YAML that does not parse', 'data: [', 'TRUST_FILE_UNREADABLE', /not YAML/],
    [
      'a private key in text that does not parse',
      `data: [${pkcs8}`,
      'PRIVATE_KEY_EXPOSED',
      /PRIVATE/,
    ],
    ['65 Secrets', Array(65).fill(secret('x')).join('---\n'), 'TRUST_FILE_TOO_LARGE', /64/],
  ])('refuses %s', (_name, text, code, message) => {
    const out = readTrustSecrets(text, 's.yaml');
    expect(out).toMatchObject({ code });
    expect((out as { message: string }).message).toMatch(message);
    expect((out as { message: string }).message).not.toContain(pkcs8.slice(20, 50));
  });
});
