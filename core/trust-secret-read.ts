/**
 * Trust Secrets from a manifest file, as `kubectl get secret -o yaml` prints them (one
 * Secret, several documents, or a `kind: List`), for the CLI's offline verdict: read into
 * the shape core/trust.ts `trustFromSecrets` takes, so that a Secret's name, test keys and
 * validity window count exactly as in the cluster. Never throws.
 */
import { TRUSTED_KEYS_LABEL } from './api.ts';
import { decodeBase64Strict } from './base64.ts';
import { refuse, type Refusal } from './codes.ts';
import { displayValue } from './display.ts';
import { findPrivateKeyMaterial } from './key-material.ts';
import { privateKeyReason, type TrustSecret } from './trust.ts';
import { DNS_SUBDOMAIN_PATTERN } from './trust-policy-schema.ts';
import { readYamlObjects } from './yaml-documents.ts';

/** Largest trust Secret file read (the CLI's --trust-secret): a Secret's own limit, 1 MiB. */
export const MAX_SECRET_FILE_BYTES = 1024 * 1024;

/** Most Secrets one file may hold. */
export const MAX_SECRETS_PER_FILE = 64;

/** Most entries (keys) one trust Secret may hold. */
export const MAX_SECRET_ENTRIES = 256;

const DNS_SUBDOMAIN = new RegExp(DNS_SUBDOMAIN_PATTERN);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** A map of strings (labels, annotations, data), or undefined when it is not one. */
function stringMap(value: unknown): Record<string, string> | undefined {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) return undefined;
  const entries = Object.entries(value);
  if (!entries.every(([, v]) => typeof v === 'string')) return undefined;
  return Object.fromEntries(entries) as Record<string, string>;
}

/** The Secret's data, as the API server stores it: `data` (base64), `stringData` over it. */
function secretData(secret: Record<string, unknown>): Record<string, string> | string {
  const data = stringMap(secret.data);
  const stringData = stringMap(secret.stringData);
  if (data === undefined || stringData === undefined)
    return 'data and stringData must map key ids to strings';
  const bad = Object.entries(data).find(([, v]) => decodeBase64Strict(v) === undefined);
  if (bad !== undefined) return `data.${displayValue(bad[0], 64)} is not base64`;
  const merged = { ...data };
  for (const [k, v] of Object.entries(stringData)) merged[k] = Buffer.from(v).toString('base64');
  const count = Object.keys(merged).length;
  if (count > MAX_SECRET_ENTRIES)
    return `it holds ${count} keys, over the limit of ${MAX_SECRET_ENTRIES}`;
  return merged;
}

/** The Secret's name, labels and annotations, or why they cannot be read. */
function secretMetadata(
  value: Record<string, unknown>,
): { name: string; namespace: string; annotations: Record<string, string> } | string {
  const metadata = isRecord(value.metadata) ? value.metadata : {};
  const { name, namespace } = metadata;
  if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name))
    return 'metadata.name must be the name of a Secret';
  const labels = stringMap(metadata.labels);
  const annotations = stringMap(metadata.annotations);
  if (labels === undefined || annotations === undefined)
    return 'metadata.labels and metadata.annotations must map names to strings';
  if (labels[TRUSTED_KEYS_LABEL] !== 'true')
    return `Secret ${displayValue(name)} is not labelled ${TRUSTED_KEYS_LABEL}=true, so the operator and the webhook do not read it`;
  return { name, namespace: typeof namespace === 'string' ? namespace : '', annotations };
}

/** One Secret object checked and copied, or why it is not a trust Secret. */
function trustSecret(value: unknown): TrustSecret | string {
  if (!isRecord(value) || value.apiVersion !== 'v1' || value.kind !== 'Secret')
    return 'it is not a Secret (apiVersion v1, kind Secret)';
  const metadata = secretMetadata(value);
  if (typeof metadata === 'string') return metadata;
  const data = secretData(value);
  if (typeof data === 'string') return `Secret ${displayValue(metadata.name)}: ${data}`;
  return { metadata, data };
}

/**
 * Reads trust Secrets from a manifest file (YAML or JSON; one Secret, documents, or a List):
 * each must be labelled genome.mathison.io/trusted-keys=true, as the cluster requires. Returns
 * them for trustFromSecrets, or a refusal: TRUST_FILE_UNREADABLE (not YAML),
 * TRUST_FILE_TOO_LARGE (over 1 MiB or MAX_SECRETS_PER_FILE), TRUST_FILE_INVALID (not a trust
 * Secret), PRIVATE_KEY_EXPOSED (private key material in unreadable text). Never throws.
 */
export function readTrustSecrets(yamlText: string, source: string): TrustSecret[] | Refusal {
  const objects = readYamlObjects(yamlText, source, {
    maxBytes: MAX_SECRET_FILE_BYTES,
    maxObjects: MAX_SECRETS_PER_FILE,
    unreadable: 'TRUST_FILE_UNREADABLE',
    tooLarge: 'TRUST_FILE_TOO_LARGE',
  });
  if ('code' in objects) {
    const kind = objects.code === 'TRUST_FILE_UNREADABLE' && findPrivateKeyMaterial(yamlText);
    return kind ? refuse('PRIVATE_KEY_EXPOSED', `${source}: ${privateKeyReason(kind)}`) : objects;
  }
  const secrets: TrustSecret[] = [];
  for (const { value, where } of objects) {
    const secret = trustSecret(value);
    if (typeof secret === 'string')
      return refuse('TRUST_FILE_INVALID', `${source}, ${where}: ${secret}`);
    secrets.push(secret);
  }
  if (secrets.length === 0) return refuse('TRUST_FILE_INVALID', `${source} holds no Secret`);
  return secrets;
}
