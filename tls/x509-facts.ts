import { X509Certificate, createPrivateKey } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { splitPemBundle, type TlsMaterial, type WebhookConfigRef } from './material.ts';
import type { CertificateFacts, RotationState, ServingFacts } from './rotation-plan.ts';

/** The planner's view of a Secret's contents, the webhook configurations' caBundles and the served certificate. */
export function describeRotationState(
  material: TlsMaterial,
  configs: { ref: WebhookConfigRef; bundles?: string[] }[],
  served: string | undefined,
): RotationState {
  const cas = material.caBundle.flatMap((pem) => parsed(pem) ?? []);
  return {
    cas: cas.map(certificateFacts),
    caKeyMatches: cas[0] !== undefined && keyMatches(cas[0], material.caKey),
    serving: servingFacts(material, cas),
    caPublishedAt: material.caPublishedAt,
    servingIssuedAt: material.servingIssuedAt,
    configs: configs.map(({ ref, bundles }) => ({
      ref,
      bundles: bundles?.map((pem) => bundleFingerprints(pem)),
    })),
    served,
  };
}

/** The facts of one parsed certificate. */
function certificateFacts(cert: X509Certificate): CertificateFacts {
  return {
    fingerprint: cert.fingerprint256,
    serial: cert.serialNumber,
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
  };
}

/** The SHA-256 fingerprint of a PEM certificate, or undefined when it does not parse. */
export function fingerprintOf(pem: string): string | undefined {
  return parsed(pem)?.fingerprint256;
}

/** Subject alternative names in the planner's form: `DNS:name` and `IP:address`, sorted. */
export function normaliseNames(dnsNames: string[], ipAddresses: string[]): string[] {
  return [
    ...dnsNames.map((name) => `DNS:${name.toLowerCase()}`),
    ...ipAddresses.map((ip) => `IP:${canonicalIp(ip)}`),
  ].sort();
}

function servingFacts(material: TlsMaterial, cas: X509Certificate[]): ServingFacts | undefined {
  const cert = material.servingCert ? parsed(material.servingCert) : undefined;
  if (!cert || !keyMatches(cert, material.servingKey)) return undefined;
  const signer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  return { ...certificateFacts(cert), names: sanNames(cert), signedBy: signer?.fingerprint256 };
}

function bundleFingerprints(bundlePem: string): string[] {
  // An unreadable entry still counts, so that the bundle differs from the Secret's and is re-published.
  return splitPemBundle(bundlePem).map((pem) => fingerprintOf(pem) ?? 'unreadable');
}

function sanNames(cert: X509Certificate): string[] {
  const entries = (cert.subjectAltName ?? '').split(', ').filter(Boolean);
  const dns = entries.filter((e) => e.startsWith('DNS:')).map((e) => e.slice(4));
  const ips = entries.filter((e) => e.startsWith('IP Address:')).map((e) => e.slice(11));
  return normaliseNames(dns, ips);
}

function canonicalIp(ip: string): string {
  // The URL parser compresses IPv6 the same way whatever form it was written in.
  return isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname.slice(1, -1) : ip;
}

function parsed(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

function keyMatches(cert: X509Certificate, keyPem: string | undefined): boolean {
  if (!keyPem) return false;
  try {
    return cert.checkPrivateKey(createPrivateKey(keyPem));
  } catch {
    return false;
  }
}
