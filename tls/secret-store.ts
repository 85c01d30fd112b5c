import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import { CA_PUBLISHED_AT_ANNOTATION, SERVING_ISSUED_AT_ANNOTATION } from '../core/api.ts';
import { absentOn404, statusOf } from '../kube/errors.ts';
import {
  encodeCaBundle,
  decodeCaBundle,
  joinPemBundle,
  splitPemBundle,
  type PublishOutcome,
  type TlsMaterial,
  type WebhookConfigRef,
} from './material.ts';

/** The TLS Secret as read: its decoded contents and the object itself (for its resourceVersion). */
export interface StoredTlsSecret {
  material: TlsMaterial;
  secret: V1Secret;
}

/** Reads and writes the webhook's TLS Secret and the caBundle of its webhook configurations. */
export interface WebhookTlsStore {
  /** The Secret, or undefined when it does not exist. */
  readSecret(): Promise<StoredTlsSecret | undefined>;
  /** Creates or replaces the Secret (optimistic concurrency); false when someone else wrote it first. */
  writeSecret(material: TlsMaterial, previous: V1Secret | undefined): Promise<boolean>;
  /** The caBundle (PEM text) of each webhook in a configuration, or undefined when it does not exist. */
  readCaBundles(ref: WebhookConfigRef): Promise<string[] | undefined>;
  /** Sets the caBundle of every webhook in a configuration to `bundlePem`, retrying conflicts. */
  publishCaBundle(ref: WebhookConfigRef, bundlePem: string): Promise<PublishOutcome>;
}

const CONFLICT_RETRIES = 5;

/** The contents of a TLS Secret (missing keys and unreadable timestamps come back undefined). */
export function decodeTlsSecret(secret: V1Secret): TlsMaterial {
  const field = (key: string) => {
    const value = secret.data?.[key];
    return value ? Buffer.from(value, 'base64').toString('utf8') : undefined;
  };
  const annotations = secret.metadata?.annotations ?? {};
  return {
    caBundle: splitPemBundle(field('ca.crt') ?? ''),
    caKey: field('ca.key'),
    servingCert: field('tls.crt'),
    servingKey: field('tls.key'),
    caPublishedAt: parseTime(annotations[CA_PUBLISHED_AT_ANNOTATION]),
    servingIssuedAt: parseTime(annotations[SERVING_ISSUED_AT_ANNOTATION]),
  };
}

/**
 * A Secret holding `material`, keeping the rest of `base` (labels, resourceVersion) and its type:
 * kubernetes.io/tls when new, but the type of a Secret is immutable, and the chart pre-creates
 * this one empty as Opaque (kubernetes.io/tls cannot exist without its keys) so that the
 * webhook needs no right to create Secrets.
 */
export function encodeTlsSecret(material: TlsMaterial, base: V1Secret): V1Secret {
  const data: Record<string, string> = {
    'tls.crt': base64(material.servingCert ?? ''),
    'tls.key': base64(material.servingKey ?? ''),
    'ca.crt': base64(joinPemBundle(material.caBundle)),
  };
  if (material.caKey) data['ca.key'] = base64(material.caKey);
  const annotations = { ...base.metadata?.annotations };
  setTime(annotations, CA_PUBLISHED_AT_ANNOTATION, material.caPublishedAt);
  setTime(annotations, SERVING_ISSUED_AT_ANNOTATION, material.servingIssuedAt);
  return {
    ...base,
    apiVersion: 'v1',
    kind: 'Secret',
    type: base.type ?? 'kubernetes.io/tls',
    metadata: { ...base.metadata, annotations },
    data,
  };
}

/** A WebhookTlsStore backed by the API server. */
export function kubeWebhookTlsStore(
  kc: KubeConfig,
  target: { namespace: string; secretName: string },
): WebhookTlsStore {
  const core = kc.makeApiClient(CoreV1Api);
  const apis = webhookConfigApis(kc.makeApiClient(AdmissionregistrationV1Api));
  const { namespace, secretName: name } = target;
  return {
    readSecret: async () => {
      const secret = await absentOn404(core.readNamespacedSecret({ name, namespace }));
      return secret && { material: decodeTlsSecret(secret), secret };
    },
    writeSecret: async (material, previous) => {
      const body = encodeTlsSecret(material, previous ?? { metadata: { name, namespace } });
      const write = previous
        ? core.replaceNamespacedSecret({ name, namespace, body })
        : core.createNamespacedSecret({ namespace, body });
      // 409 is both "changed since you read it" (replace) and "already exists" (create).
      return (await statusOf(write, 409)) !== 409;
    },
    readCaBundles: (ref) => readCaBundles(apis, ref),
    publishCaBundle: (ref, bundlePem) => publishCaBundle(apis, ref, bundlePem),
  };
}

interface WebhookConfig {
  webhooks?: { clientConfig: { caBundle?: string } }[];
}

interface WebhookConfigApi<T extends WebhookConfig> {
  read(name: string): Promise<T>;
  replace(name: string, body: T): Promise<unknown>;
}

interface WebhookConfigApis {
  validating: WebhookConfigApi<V1ValidatingWebhookConfiguration>;
  mutating: WebhookConfigApi<V1MutatingWebhookConfiguration>;
}

function webhookConfigApis(api: AdmissionregistrationV1Api): WebhookConfigApis {
  return {
    validating: {
      read: (name) => api.readValidatingWebhookConfiguration({ name }),
      replace: (name, body) => api.replaceValidatingWebhookConfiguration({ name, body }),
    },
    mutating: {
      read: (name) => api.readMutatingWebhookConfiguration({ name }),
      replace: (name, body) => api.replaceMutatingWebhookConfiguration({ name, body }),
    },
  };
}

async function readCaBundles(
  apis: WebhookConfigApis,
  ref: WebhookConfigRef,
): Promise<string[] | undefined> {
  const read = ref.kind === 'validating' ? apis.validating.read : apis.mutating.read;
  const config: WebhookConfig | undefined = await absentOn404(read(ref.name));
  return config && (config.webhooks ?? []).map((w) => decodeCaBundle(w.clientConfig.caBundle));
}

function publishCaBundle(
  apis: WebhookConfigApis,
  ref: WebhookConfigRef,
  bundlePem: string,
): Promise<PublishOutcome> {
  const field = encodeCaBundle(bundlePem);
  return ref.kind === 'validating'
    ? publishWithRetries(apis.validating, ref.name, field)
    : publishWithRetries(apis.mutating, ref.name, field);
}

async function publishWithRetries<T extends WebhookConfig>(
  api: WebhookConfigApi<T>,
  name: string,
  field: string,
): Promise<PublishOutcome> {
  for (let attempt = 1; ; attempt++) {
    const config = await absentOn404(api.read(name));
    if (!config) return 'missing';
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === field)) return 'unchanged';
    for (const w of webhooks) w.clientConfig.caBundle = field;
    // The object carries the resourceVersion we read, so the API server refuses a stale write.
    const status = await statusOf(api.replace(name, config), 409, 404);
    if (status === 404) return 'missing';
    if (status !== 409) return 'patched';
    if (attempt >= CONFLICT_RETRIES) throw new Error(`${name}: still conflicting after retries`);
  }
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function parseTime(value: string | undefined): Date | undefined {
  const time = value ? new Date(value) : undefined;
  return time && !Number.isNaN(time.getTime()) ? time : undefined;
}

function setTime(annotations: Record<string, string>, key: string, time: Date | undefined): void {
  if (time) annotations[key] = time.toISOString();
  else delete annotations[key];
}
