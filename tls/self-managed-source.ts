import { X509Certificate } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { errorMessage, silentLogger, withFields, type Logger } from '../core/log.ts';
import { joinPemBundle, type TlsMaterial, type WebhookConfigRef } from './material.ts';
import { createCertificateAuthority, issueCertificate } from './pki.ts';
import { planRotation, type RotationAction, type RotationPolicy } from './rotation-plan.ts';
import { kubeWebhookTlsStore, type WebhookTlsStore } from './secret-store.ts';
import {
  PeriodicCertificateSource,
  servingCertificate,
  type CertificateSource,
} from './serving.ts';
import { describeRotationState, fingerprintOf, normaliseNames } from './x509-facts.ts';

/** How the self-managed source keeps its CA, serving certificate and caBundles; every field has a default. */
export interface SelfManagedOptions {
  /** Where the Secret and webhook configurations live; required unless `store` is given. */
  kubeConfig?: KubeConfig;
  /** Replaces the API server (unit tests). */
  store?: WebhookTlsStore;
  namespace?: string;
  secretName?: string;
  validatingWebhooks?: string[];
  mutatingWebhooks?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  caValidityMs?: number;
  servingValidityMs?: number;
  renewFraction?: number;
  gracePeriodMs?: number;
  checkIntervalMs?: number;
  now?: () => Date;
  logger?: Logger;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const DEFAULT_NAMESPACE = 'genome-system';
const DEFAULT_NAME = 'genome-webhook';
const DEFAULT_SECRET = `${DEFAULT_NAME}-tls`;
const CONFLICT_ATTEMPTS = 5;
// Backdating covers a peer whose clock runs a little behind; capped at a tenth of the lifetime
// so that short test lifetimes are not swallowed by it (renewal is a fraction of the lifetime).
const MAX_BACKDATE_MS = 5 * 60 * 1000;

interface Settings {
  store: WebhookTlsStore;
  configs: WebhookConfigRef[];
  dnsNames: string[];
  ipAddresses: string[];
  caValidityMs: number;
  servingValidityMs: number;
  policy: RotationPolicy;
  now: () => Date;
  logger: Logger;
}

/** A CertificateSource that keeps its own CA and serving certificate in a Secret and rotates them in place. */
export function selfManagedCertificateSource(options: SelfManagedOptions): CertificateSource {
  return new SelfManagedSource(settings(options));
}

function settings(options: SelfManagedOptions): Settings {
  const namespace = options.namespace ?? DEFAULT_NAMESPACE;
  const dnsNames = options.dnsNames ?? [
    `${DEFAULT_NAME}.${namespace}.svc`,
    `${DEFAULT_NAME}.${namespace}.svc.cluster.local`,
  ];
  const ipAddresses = options.ipAddresses ?? [];
  return {
    store: options.store ?? kubeStore(options, namespace),
    configs: configRefs(options),
    dnsNames,
    ipAddresses,
    caValidityMs: options.caValidityMs ?? 2 * 365 * DAY_MS,
    servingValidityMs: options.servingValidityMs ?? 90 * DAY_MS,
    policy: policyOf(options, normaliseNames(dnsNames, ipAddresses)),
    now: options.now ?? (() => new Date()),
    // Every line names the Secret, so replicas' logs can be read side by side.
    logger: withFields(options.logger ?? silentLogger, {
      namespace,
      secret: options.secretName ?? DEFAULT_SECRET,
    }),
  };
}

function policyOf(options: SelfManagedOptions, names: string[]): RotationPolicy {
  return {
    names,
    renewFraction: options.renewFraction ?? 1 / 3,
    gracePeriodMs: options.gracePeriodMs ?? 30_000,
    checkIntervalMs: options.checkIntervalMs ?? 60_000,
  };
}

function configRefs(options: SelfManagedOptions): WebhookConfigRef[] {
  return [
    ...(options.validatingWebhooks ?? [DEFAULT_NAME]).map((name) => refOf('validating', name)),
    ...(options.mutatingWebhooks ?? []).map((name) => refOf('mutating', name)),
  ];
}

function kubeStore(options: SelfManagedOptions, namespace: string): WebhookTlsStore {
  if (!options.kubeConfig)
    throw new Error('selfManagedCertificateSource needs kubeConfig or store');
  const secretName = options.secretName ?? DEFAULT_SECRET;
  return kubeWebhookTlsStore(options.kubeConfig, { namespace, secretName });
}

function refOf(kind: WebhookConfigRef['kind'], name: string): WebhookConfigRef {
  return { kind, name };
}

/** Gather (Secret, configurations) → plan (pure) → act (write, publish, reload), on a timer. */
class SelfManagedSource extends PeriodicCertificateSource {
  private readonly missing = new Set<string>();

  constructor(private readonly s: Settings) {
    super();
  }

  protected intervalMs(): number {
    return this.s.policy.checkIntervalMs;
  }

  protected now(): Date {
    return this.s.now();
  }

  protected async check(): Promise<void> {
    try {
      for (let attempt = 1; attempt <= CONFLICT_ATTEMPTS; attempt++) {
        if (await this.pass()) return;
        this.s.logger.info('tls secret changed under us; re-reading', { attempt });
      }
      this.s.logger.warn('tls secret kept conflicting; retrying at the next check', {});
    } catch (err) {
      this.s.logger.error('tls check failed; retrying at the next check', {
        error: errorMessage(err),
      });
    }
  }

  /** Returns false when the Secret write lost a race, so the caller re-reads and re-plans. */
  private async pass(): Promise<boolean> {
    const stored = await this.s.store.readSecret();
    const material = stored?.material ?? { caBundle: [] };
    const configs = await this.readConfigs();
    const served = this.serving && fingerprintOf(this.serving.certPem);
    const now = this.s.now();
    const actions = planRotation(
      describeRotationState(material, configs, served),
      now,
      this.s.policy,
    );
    for (const a of actions)
      this.s.logger.info(`tls ${a.type}`, { reason: a.reason, message: a.message });
    const next = await applyActions(material, actions, this.s, now);
    if (next !== material && !(await this.s.store.writeSecret(next, stored?.secret))) return false;
    await this.publish(actions, next);
    if (actions.some((a) => a.type === 'reload')) this.reload(next);
    return true;
  }

  private async readConfigs(): Promise<{ ref: WebhookConfigRef; bundles?: string[] }[]> {
    return Promise.all(
      this.s.configs.map(async (ref) => {
        const bundles = await this.s.store.readCaBundles(ref);
        this.noteMissing(ref, bundles === undefined);
        return { ref, bundles };
      }),
    );
  }

  /** Logs a configuration going missing or coming back, once each, rather than on every check. */
  private noteMissing(ref: WebhookConfigRef, missing: boolean): void {
    const key = `${ref.kind}/${ref.name}`;
    if (missing && !this.missing.has(key)) {
      this.missing.add(key);
      this.s.logger.warn('webhook configuration not found; will retry', { ...ref });
    } else if (!missing && this.missing.delete(key)) {
      this.s.logger.info('webhook configuration found', { ...ref });
    }
  }

  private async publish(actions: RotationAction[], material: TlsMaterial): Promise<void> {
    const bundle = joinPemBundle(material.caBundle);
    for (const a of actions) {
      if (a.type !== 'publish-bundle') continue;
      for (const ref of a.configs) {
        const outcome = await this.s.store.publishCaBundle(ref, bundle);
        this.s.logger.info('tls caBundle published', {
          ...ref,
          outcome,
          cas: material.caBundle.length,
        });
      }
    }
  }

  private reload(material: TlsMaterial): void {
    const cert = servingCertificate(material.servingCert ?? '', material.servingKey ?? '');
    this.serving = cert;
    const x509 = new X509Certificate(cert.certPem);
    this.s.logger.info('tls serving certificate loaded', {
      serial: x509.serialNumber,
      issuer: x509.issuer,
      notAfter: cert.notAfter.toISOString(),
    });
    this.listeners.emit(cert);
  }
}

/** The Secret contents after the Secret-changing actions; the same object when none applies. */
async function applyActions(
  material: TlsMaterial,
  actions: RotationAction[],
  s: Settings,
  now: Date,
): Promise<TlsMaterial> {
  let next = material;
  for (const a of actions) {
    if (a.type === 'create-ca') next = await withNewCa(next, s, now);
    if (a.type === 'drop-old-cas') next = withBundle(next, a.keep);
    if (a.type === 'issue-serving') next = await withNewServing(next, s, now);
  }
  return next;
}

async function withNewCa(material: TlsMaterial, s: Settings, now: Date): Promise<TlsMaterial> {
  // The creation time in the name tells CAs apart in logs and in a served chain's issuer.
  const name = `${DEFAULT_NAME}-ca@${Math.floor(now.getTime() / 1000)}`;
  const ca = await createCertificateAuthority(name, lifetime(now, s.caValidityMs));
  return {
    ...material,
    caBundle: [ca.cert, ...material.caBundle],
    caKey: ca.key,
    caPublishedAt: now,
  };
}

function withBundle(material: TlsMaterial, keep: string[]): TlsMaterial {
  const caBundle = material.caBundle.filter((pem) => keep.includes(fingerprintOf(pem) ?? ''));
  return { ...material, caBundle };
}

async function withNewServing(material: TlsMaterial, s: Settings, now: Date): Promise<TlsMaterial> {
  const [caCert] = material.caBundle;
  if (!caCert || !material.caKey)
    throw new Error('cannot issue a serving certificate without a CA');
  const wanted = lifetime(now, s.servingValidityMs);
  // A certificate must not outlive its CA: the API server checks the whole chain.
  const caNotAfter = new X509Certificate(caCert).validToDate;
  const notAfter = wanted.notAfter < caNotAfter ? wanted.notAfter : caNotAfter;
  const issued = await issueCertificate(
    { cert: caCert, key: material.caKey },
    {
      commonName: s.dnsNames[0] ?? DEFAULT_NAME,
      dnsNames: s.dnsNames,
      ipAddresses: s.ipAddresses,
      usage: 'server',
      notBefore: wanted.notBefore,
      notAfter,
    },
  );
  return { ...material, servingCert: issued.cert, servingKey: issued.key, servingIssuedAt: now };
}

function lifetime(now: Date, validityMs: number): { notBefore: Date; notAfter: Date } {
  const backdate = Math.min(MAX_BACKDATE_MS, validityMs / 10);
  return {
    notBefore: new Date(now.getTime() - backdate),
    notAfter: new Date(now.getTime() + validityMs),
  };
}
