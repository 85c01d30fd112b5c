// The chart's cert-manager mode rendered (helm template): without an issuerRef, a self-signed
// Issuer signs a CA Certificate whose key never rotates, a CA Issuer signs the serving
// Certificate, and the webhook configurations take their caBundle from the CA Certificate, so
// a renewal of the serving certificate never changes the trusted bundle and a renewal of the CA
// (same key) still verifies the certificates it signed before. With the user's own issuerRef,
// the serving Certificate names it and the bundle comes from the serving Certificate's ca.crt.
// test/node/cert-manager.test.ts runs this mode against a real cert-manager.
import { describe, expect, it } from 'vitest';
import { pick, template, type Rendered } from './support/helm.ts';

const NS = 'genome-system';
const WEBHOOK = 'genome-operator-webhook';

interface CertificateSpec {
  isCA?: boolean;
  secretName: string;
  duration: string;
  renewBefore: string;
  privateKey: { rotationPolicy: string };
  issuerRef: { kind: string; name: string; group?: string };
}

const specOf = (o: Rendered) => o['spec'] as CertificateSpec;
const hours = (d: string) => Number(/^(\d+)h$/.exec(d)?.[1]);

async function certManagerMode(args: string[] = []): Promise<Rendered[]> {
  return template('genome-operator', NS, ['--set', 'webhook.tls.mode=certManager', ...args]);
}

describe('cert-manager mode', () => {
  it('chains a self-signed Issuer, a CA Certificate that keeps its key, a CA Issuer and the serving Certificate', async () => {
    const objects = await certManagerMode();
    const selfSigned = pick(objects, 'Issuer', `${WEBHOOK}-selfsigned`);
    expect(selfSigned['spec']).toEqual({ selfSigned: {} });

    const ca = specOf(pick(objects, 'Certificate', `${WEBHOOK}-ca`));
    expect(ca.isCA).toBe(true);
    expect(ca.secretName).toBe(`${WEBHOOK}-ca`);
    expect(ca.privateKey.rotationPolicy).toBe('Never');
    expect(ca.issuerRef).toEqual({ kind: 'Issuer', name: `${WEBHOOK}-selfsigned` });

    const caIssuer = pick(objects, 'Issuer', `${WEBHOOK}-ca`);
    expect(caIssuer['spec']).toEqual({ ca: { secretName: `${WEBHOOK}-ca` } });

    const serving = specOf(pick(objects, 'Certificate', WEBHOOK));
    expect(serving.isCA).toBeUndefined();
    expect(serving.secretName).toBe('genome-webhook-tls');
    expect(serving.issuerRef).toEqual({ kind: 'Issuer', name: `${WEBHOOK}-ca` });
    // The CA renews long before it expires, and a serving certificate issued just before a CA
    // renewal is renewed (with the new CA) well before the old CA certificate expires.
    expect(hours(ca.renewBefore)).toBeGreaterThan(hours(serving.duration));
  });

  it('injects the caBundle from the CA Certificate into both webhook configurations', async () => {
    const objects = await certManagerMode();
    for (const kind of ['ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration']) {
      expect(pick(objects, kind).metadata.annotations).toEqual({
        'cert-manager.io/inject-ca-from': `${NS}/${WEBHOOK}-ca`,
      });
    }
  });

  it("signs with the user's issuerRef and injects the serving Certificate's CA", async () => {
    const objects = await certManagerMode([
      '--set',
      'webhook.tls.certManager.issuerRef.kind=ClusterIssuer',
      '--set',
      'webhook.tls.certManager.issuerRef.name=corp-ca',
    ]);
    expect(objects.filter((o) => o.kind === 'Issuer')).toEqual([]);
    expect(objects.filter((o) => o.kind === 'Certificate').map((o) => o.metadata.name)).toEqual([
      WEBHOOK,
    ]);
    expect(specOf(pick(objects, 'Certificate', WEBHOOK)).issuerRef).toEqual({
      kind: 'ClusterIssuer',
      name: 'corp-ca',
    });
    expect(pick(objects, 'ValidatingWebhookConfiguration').metadata.annotations).toEqual({
      'cert-manager.io/inject-ca-from': `${NS}/${WEBHOOK}`,
    });
  });

  it('renders no cert-manager object in selfManaged mode', async () => {
    const objects = await template('genome-operator', NS);
    expect(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io'))).toEqual([]);
    expect(pick(objects, 'ValidatingWebhookConfiguration').metadata.annotations).toBeUndefined();
  });
});
