/**
 * The webhook's TLS material and PEM bundles, as plain data: no I/O, no Kubernetes client, so
 * the rotation planner and the store can share it.
 */

/** The CA, serving certificate and rotation timestamps that the webhook keeps in its TLS Secret. */
export interface TlsMaterial {
  /** CA certificates (PEM), the current CA first, then any previous CA still in its overlap window. */
  caBundle: string[];
  /** The current CA's private key (PEM). */
  caKey?: string;
  servingCert?: string;
  servingKey?: string;
  /** When the current CA was first written to the bundle. */
  caPublishedAt?: Date;
  /** When the current serving certificate was written. */
  servingIssuedAt?: Date;
}

/** A webhook configuration whose caBundle the webhook keeps in step, by kind and name. */
export interface WebhookConfigRef {
  kind: 'validating' | 'mutating';
  name: string;
}

/** What publishing a caBundle to one webhook configuration did. */
export type PublishOutcome = 'patched' | 'unchanged' | 'missing';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CERTIFICATE blocks of a PEM bundle, each normalised to end with one newline. */
export function splitPemBundle(text: string): string[] {
  return (text.match(PEM_BLOCK) ?? []).map((block) => `${block.trim()}\n`);
}

/** One PEM bundle from certificates, in order. */
export function joinPemBundle(pems: string[]): string {
  return pems.map((pem) => `${pem.trim()}\n`).join('');
}

/** The caBundle field value (base64 of the PEM text) for a bundle. */
export function encodeCaBundle(bundlePem: string): string {
  return base64(bundlePem);
}

/** The PEM text of a caBundle field value ('' when unset). */
export function decodeCaBundle(field: string | undefined): string {
  return field ? Buffer.from(field, 'base64').toString('utf8') : '';
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
