import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { CA_PUBLISHED_AT_ANNOTATION, SERVING_ISSUED_AT_ANNOTATION } from '../core/api.ts';
import {
  decodeCaBundle,
  encodeCaBundle,
  joinPemBundle,
  splitPemBundle,
  type TlsMaterial,
} from './material.ts';
import { decodeTlsSecret, encodeTlsSecret } from './secret-store.ts';

/** A syntactically PEM certificate block (the encoding does not parse certificates). */
const pem = (body: string) => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
const caNew = pem('bmV3');
const caOld = pem('b2xk');

const material: TlsMaterial = {
  caBundle: [caNew, caOld],
  caKey: '-----BEGIN PRIVATE KEY-----\ncakey\n-----END PRIVATE KEY-----\n',
  servingCert: pem('c2VydmluZw=='),
  servingKey: '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n',
  caPublishedAt: new Date('2030-01-01T00:00:00.000Z'),
  servingIssuedAt: new Date('2030-01-02T00:00:00.000Z'),
};

const data = (secret: V1Secret, key: string) =>
  Buffer.from(secret.data?.[key] ?? '', 'base64').toString();

describe('PEM bundles', () => {
  it.each([
    { name: 'splits two blocks in order', text: caNew + caOld, want: [caNew, caOld] },
    {
      name: 'ignores text around and between blocks and normalises line ends',
      text: `# comment\r\n${caNew.trim()}\n\n\n${caOld.trim()}`,
      want: [caNew, caOld],
    },
    { name: 'reads an empty bundle as no certificates', text: '', want: [] },
    {
      name: 'skips blocks that are not certificates',
      text: `-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n${caOld}`,
      want: [caOld],
    },
  ])('$name', ({ text, want }) => {
    expect(splitPemBundle(text)).toEqual(want);
  });

  it('joins what it splits back into the same text', () => {
    expect(joinPemBundle(splitPemBundle(caNew + caOld))).toBe(caNew + caOld);
  });

  it('round-trips a caBundle field through base64', () => {
    const field = encodeCaBundle(caNew + caOld);
    expect(Buffer.from(field, 'base64').toString()).toBe(caNew + caOld);
    expect(decodeCaBundle(field)).toBe(caNew + caOld);
    expect(decodeCaBundle(undefined)).toBe('');
  });
});

describe('the TLS Secret', () => {
  const base: V1Secret = {
    metadata: {
      name: 'webhook-tls',
      namespace: 'genome-system',
      resourceVersion: '42',
      labels: { app: 'genome-webhook' },
      annotations: { 'example.com/keep': 'me' },
    },
  };

  it('is a kubernetes.io/tls Secret with the serving pair, the CA bundle (current first) and the CA key', () => {
    const secret = encodeTlsSecret(material, base);
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(data(secret, 'tls.crt')).toBe(material.servingCert);
    expect(data(secret, 'tls.key')).toBe(material.servingKey);
    expect(data(secret, 'ca.crt')).toBe(caNew + caOld);
    expect(data(secret, 'ca.key')).toBe(material.caKey);
  });

  it('keeps the type of a Secret that exists (the chart pre-creates it empty, Opaque)', () => {
    const secret = encodeTlsSecret(material, { ...base, type: 'Opaque' });
    expect(secret.type).toBe('Opaque');
    expect(data(secret, 'tls.crt')).toBe(material.servingCert);
  });

  it('records the rotation times in annotations and keeps the rest of the metadata', () => {
    const { metadata } = encodeTlsSecret(material, base);
    expect(metadata).toMatchObject({
      name: 'webhook-tls',
      resourceVersion: '42',
      labels: { app: 'genome-webhook' },
      annotations: {
        'example.com/keep': 'me',
        [CA_PUBLISHED_AT_ANNOTATION]: '2030-01-01T00:00:00.000Z',
        [SERVING_ISSUED_AT_ANNOTATION]: '2030-01-02T00:00:00.000Z',
      },
    });
  });

  it('decodes what it encodes', () => {
    expect(decodeTlsSecret(encodeTlsSecret(material, base))).toEqual(material);
  });

  it('reads an empty Secret as no material and ignores unreadable timestamps', () => {
    const secret: V1Secret = {
      metadata: { annotations: { [CA_PUBLISHED_AT_ANNOTATION]: 'yesterday' } },
    };
    expect(decodeTlsSecret(secret)).toEqual({
      caBundle: [],
      caKey: undefined,
      servingCert: undefined,
      servingKey: undefined,
      caPublishedAt: undefined,
      servingIssuedAt: undefined,
    });
  });

  it('removes a timestamp annotation the material no longer carries', () => {
    const previous = encodeTlsSecret(material, base);
    const next = encodeTlsSecret({ ...material, servingIssuedAt: undefined }, previous);
    expect(next.metadata?.annotations).not.toHaveProperty(SERVING_ISSUED_AT_ANNOTATION);
  });
});
