import { X509Certificate } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../core/log.ts';
import type { PublishOutcome, TlsMaterial, WebhookConfigRef } from './material.ts';
import { createCertificateAuthority } from './pki.ts';
import {
  decodeTlsSecret,
  encodeTlsSecret,
  type StoredTlsSecret,
  type WebhookTlsStore,
} from './secret-store.ts';
import { selfManagedCertificateSource, type SelfManagedOptions } from './self-managed-source.ts';
import type { CertificateSource } from './serving.ts';

/** An in-memory API server for the Secret (with resourceVersions) and the webhook configurations. */
class MemoryStore implements WebhookTlsStore {
  secret: V1Secret | undefined;
  conflicts = 0;
  /** caBundle PEM of each webhook, by configuration name; absent means the configuration does not exist. */
  readonly configs = new Map<string, string[]>();
  private version = 0;

  async readSecret(): Promise<StoredTlsSecret | undefined> {
    return (
      this.secret && {
        material: decodeTlsSecret(this.secret),
        secret: structuredClone(this.secret),
      }
    );
  }

  async writeSecret(material: TlsMaterial, previous: V1Secret | undefined): Promise<boolean> {
    if (previous?.metadata?.resourceVersion !== this.secret?.metadata?.resourceVersion) {
      this.conflicts++;
      return false;
    }
    const secret = encodeTlsSecret(material, previous ?? { metadata: { name: 'tls' } });
    secret.metadata = { ...secret.metadata, resourceVersion: String(++this.version) };
    this.secret = secret;
    return true;
  }

  async readCaBundles(ref: WebhookConfigRef): Promise<string[] | undefined> {
    return this.configs.get(ref.name);
  }

  async publishCaBundle(ref: WebhookConfigRef, bundlePem: string): Promise<PublishOutcome> {
    const bundles = this.configs.get(ref.name);
    if (!bundles) return 'missing';
    this.configs.set(
      ref.name,
      bundles.map(() => bundlePem),
    );
    return 'patched';
  }

  material(): TlsMaterial {
    return decodeTlsSecret(this.secret ?? {});
  }
}

const SECOND = 1000;
/** A clock the test moves by hand. */
const clock = { ms: Date.parse('2030-01-01T00:00:00Z') };
const advance = (seconds: number) => (clock.ms += seconds * SECOND);
/** Moves the clock in steps, letting the source check after each, as a running process would. */
async function runFor(seconds: number, step = 10): Promise<void> {
  for (let t = 0; t < seconds; t += step) {
    advance(step);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
const subject = (pem: string | undefined) => new X509Certificate(pem ?? '').subject;
const issuer = (pem: string | undefined) => new X509Certificate(pem ?? '').issuer;

const sources: CertificateSource[] = [];
afterEach(() => {
  for (const source of sources.splice(0)) source.stop();
});

/** A started-on-demand source over `store` with lifetimes in seconds: CA 300, serving 90, grace 3, check 5 ms. */
function makeSource(store: WebhookTlsStore, options: Partial<SelfManagedOptions> = {}) {
  const source = selfManagedCertificateSource({
    store,
    validatingWebhooks: ['vwc'],
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    caValidityMs: 300 * SECOND,
    servingValidityMs: 90 * SECOND,
    gracePeriodMs: 3 * SECOND,
    checkIntervalMs: 5,
    now: () => new Date(clock.ms),
    ...options,
  });
  sources.push(source);
  return source;
}

describe('the self-managed certificate source', () => {
  it('on a fresh start writes the Secret, publishes the caBundle and serves the certificate', async () => {
    const store = new MemoryStore();
    store.configs.set('vwc', ['', '']);
    const source = makeSource(store);
    await source.start();
    const material = store.material();
    expect(material.caBundle).toHaveLength(1);
    expect(issuer(material.servingCert)).toBe(subject(material.caBundle[0]));
    expect(source.current()?.certPem).toBe(material.servingCert);
    expect(source.isValid()).toBe(true);
    expect(store.configs.get('vwc')).toEqual([material.caBundle[0], material.caBundle[0]]);
  });

  it('rotates the CA with an overlap, driven only by the clock', async () => {
    const store = new MemoryStore();
    store.configs.set('vwc', ['']);
    const source = makeSource(store);
    const served: string[] = [];
    source.onChange((cert) => served.push(cert.certPem));
    await source.start();
    const ca1 = store.material().caBundle[0];

    // Serving certificates come and go from the first CA until it nears expiry.
    await runFor(190);
    expect(store.material().caBundle).toEqual([ca1]);
    expect(served.length).toBeGreaterThan(1);

    // Less than a third of the CA's lifetime (330 s with the backdating) left: a new CA joins, first.
    advance(5);
    await expect.poll(() => store.material().caBundle.length).toBe(2);
    const [ca2, old] = store.material().caBundle;
    expect(old).toBe(ca1);
    expect(store.configs.get('vwc')).toEqual([ca2! + ca1!]);
    expect(issuer(source.current()?.certPem)).toBe(subject(ca1));

    // After the grace period the serving certificate comes from the new CA and is hot-loaded.
    advance(4);
    await expect.poll(() => issuer(source.current()?.certPem)).toBe(subject(ca2));
    expect(served.at(-1)).toBe(store.material().servingCert);

    // After the grace period and a check interval more, the old CA leaves the bundle.
    advance(4);
    await expect.poll(() => store.material().caBundle).toEqual([ca2]);
    expect(store.configs.get('vwc')).toEqual([ca2]);
  });

  it('re-issues the serving certificate when a third of its lifetime is left', async () => {
    const store = new MemoryStore();
    const source = makeSource(store);
    await source.start();
    const first = source.current()?.certPem;
    advance(50);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(source.current()?.certPem).toBe(first);
    advance(20);
    await expect.poll(() => source.current()?.certPem).not.toBe(first);
    expect(store.material().servingCert).toBe(source.current()?.certPem);
  });

  it('lets two replicas race on a fresh start: the loser re-reads and serves the winner', async () => {
    const store = new MemoryStore();
    const [a, b] = [makeSource(store), makeSource(store)];
    await Promise.all([a.start(), b.start()]);
    expect(store.conflicts).toBeGreaterThan(0);
    expect(a.current()?.certPem).toBe(store.material().servingCert);
    expect(b.current()?.certPem).toBe(store.material().servingCert);
  });

  it('logs a missing webhook configuration, keeps going, and publishes once it appears', async () => {
    const store = new MemoryStore();
    const warnings: string[] = [];
    const logger: Logger = {
      debug: () => {},
      info: () => {},
      warn: (msg) => warnings.push(msg),
      error: () => {},
    };
    const source = makeSource(store, { logger });
    await source.start();
    expect(warnings).toContain('webhook configuration not found; will retry');
    store.configs.set('vwc', ['']);
    await expect.poll(() => store.configs.get('vwc')).toEqual(store.material().caBundle);
  });

  it("re-publishes a caBundle that someone else overwrote, and leaves the Secret's CA alone", async () => {
    const store = new MemoryStore();
    store.configs.set('vwc', ['']);
    const source = makeSource(store);
    await source.start();
    const bundle = store.material().caBundle;
    store.configs.set('vwc', [(await createCertificateAuthority('someone-else')).cert]);
    await expect.poll(() => store.configs.get('vwc')).toEqual(bundle);
    expect(store.material().caBundle).toEqual(bundle);
  });
});
