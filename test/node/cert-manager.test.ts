// The chart's cert-manager mode against a real cert-manager: its controllers and CA injector,
// built from cert-manager's published Go module (scripts/build-cert-manager.sh,
// cluster/cert-manager/main.go), run as processes against the node cluster; the chart installed
// in cert-manager mode with the product image on the node. While Genomes are written in a loop
// (server-side dry runs, each one a real admission through the webhook), the serving certificate
// is renewed, then the CA, then the serving certificate again, each as `cmctl renew` does it:
// no admission fails, a serving renewal never changes the injected caBundle, the renewed CA
// keeps its key (so the bundle before and after verifies both serving certificates), and each
// webhook replica reloads the renewed certificate from its mounted Secret. Twice: with
// cainjector as it ships (a new CA is merged into the bundle) and with its merging off (the
// bundle replaced, as cainjectors before CAInjectorMerging did), which the chain must not need.
import { randomBytes, X509Certificate } from 'node:crypto';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, kubeClient, kubectl, uniqueNamespace } from '../support/cluster.ts';
import { CHART, DEV_VALUES, helm } from '../support/helm.ts';
import {
  buildCertManager,
  certificateState,
  injectedBundle,
  installCertManagerCrds,
  publicKeyOf,
  secretCertificate,
  startCertManager,
  triggerRenewal,
  waitForRevision,
  type RunningCertManager,
} from './cert-manager-support.ts';
import { applyHarnessDefaultPolicy, yieldDefaultPolicyToChart } from './default-policy.ts';
import { totk } from './genome-fixtures.ts';

const build = buildCertManager();
// One release per scenario (beforeAll names them).
let release: string;
let fullname: string;
let webhook: string;
let caName: string;
/** Whether cainjector merges a new CA into the bundle (its default) or replaces the bundle. */
let merging: boolean;
const servingSecret = 'genome-webhook-tls';
let ns: string;
let apps: string;
let certManager: RunningCertManager | undefined;
let crds: string[] = [];

if ('unavailable' in build)
  console.warn(`SKIPPED test/node/cert-manager.test.ts: ${build.unavailable}`);
else
  console.log(
    `cert-manager build (cached or fresh): ${build.seconds.toFixed(1)} s in ${build.dir}`,
  );

/** Writers that admit the TOTK Genome (dry run: nothing stored) until stopped; counts both outcomes. */
function startAdmissions(writers = 2) {
  const api = kubeClient().makeApiClient(CustomObjectsApi);
  let ok = 0;
  const failures: string[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        await api.createNamespacedCustomObject({
          ...{ group: 'mathison.io', version: 'v1alpha1', plural: 'genomes', namespace: apps },
          dryRun: 'All',
          body: {
            ...{ apiVersion: 'mathison.io/v1alpha1', kind: 'Genome' },
            metadata: { generateName: 'renewal-' },
            spec: { genome: totk.genome },
          },
        });
        ok++;
      } catch (err) {
        failures.push(`${new Date().toISOString()} ${String(err).slice(0, 500)}`);
      }
    }
  };
  const running = Promise.all(Array.from({ length: writers }, loop));
  return {
    counts: () => ({ ok, failed: failures.length }),
    stop: async () => {
      stopped = true;
      await running;
      return { ok, failures };
    },
  };
}

/** The webhook replicas' names. */
async function webhookPods(): Promise<string[]> {
  const out = await kubectl([
    ...['get', 'pods', '-n', ns, '-o', 'name'],
    ...['-l', `app.kubernetes.io/instance=${release},app.kubernetes.io/component=webhook`],
  ]);
  return out.stdout.trim().split('\n').filter(Boolean);
}

/** Waits until every webhook replica logged loading `cert` from its mounted Secret; returns ms. */
async function waitUntilServed(cert: X509Certificate, since: number): Promise<number> {
  const notAfter = new Date(cert.validTo).toISOString();
  const pods = await webhookPods();
  expect(pods.length).toBe(2);
  await eventually(
    `each webhook replica to load the certificate ending ${notAfter}`,
    async () => {
      for (const pod of pods) {
        const logs = await kubectl(['logs', '-n', ns, pod, '-c', 'webhook']);
        const loaded = logs.stdout
          .split('\n')
          .some((l) => l.includes('tls certificate loaded from files') && l.includes(notAfter));
        if (!loaded) return undefined;
      }
      return true;
    },
    180_000,
  );
  return Date.now() - since;
}

async function installChart(extra: string[] = []): Promise<number> {
  const started = Date.now();
  const out = await helm([
    ...extra,
    ...['install', release, CHART, '--namespace', ns],
    ...['--values', DEV_VALUES, '--set', 'webhook.tls.mode=certManager'],
    ...['--set', 'image.pullPolicy=Never', '--set', 'webhook.bootCheckPullPolicy=Never'],
    ...['--set', `selfCheck.namespace=${apps}`, '--wait', '--timeout', '5m'],
  ]);
  if (out.code !== 0) {
    const pods = await kubectl(
      ['get', 'pods,certificates,certificaterequests', '-n', ns, '-o', 'wide'],
      {
        allowFailure: true,
      },
    );
    throw new Error(`helm install failed: ${out.stderr}\n${pods.stdout}\n${certManager?.logs()}`);
  }
  return Date.now() - started;
}

/** The SHA-256 fingerprints of the certificates in a PEM bundle, in order. */
const fingerprintsOf = (pem: string): string[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map(
    (block) => new X509Certificate(block).fingerprint256,
  );

/** The caBundle cainjector wrote into the Genome webhook's configuration. */
const vwc = () => injectedBundle('validatingwebhookconfiguration', fullname);

/**
 * With `load` running: the serving certificate renewed, then the CA, then the serving
 * certificate again, each checked; returns the figures.
 */
async function renewals(load: ReturnType<typeof startAdmissions>): Promise<string[]> {
  await eventually(
    'admissions to flow',
    async () => (load.counts().ok > 20 ? true : undefined),
    60_000,
  );
  const figures: string[] = [];

  // 1. Serving renewal: a new key and certificate from the same CA; the bundle stays.
  const bundleBefore = await vwc();
  const oldServing = await secretCertificate(ns, servingSecret);
  let revision = (await certificateState(ns, webhook)).revision;
  let t = Date.now();
  await triggerRenewal(ns, webhook);
  revision = await waitForRevision(ns, webhook, revision);
  figures.push(`serving renewal issued in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const renewed = await secretCertificate(ns, servingSecret);
  expect(renewed.serialNumber).not.toBe(oldServing.serialNumber);
  figures.push(
    `  and served by both replicas after ${((await waitUntilServed(renewed, t)) / 1000).toFixed(1)} s`,
  );
  expect(await vwc()).toBe(bundleBefore);

  // 2. CA renewal: a new CA certificate with the same key; cainjector moves the bundle to it,
  // and it verifies the serving certificate the old CA certificate signed.
  const oldCa = await secretCertificate(ns, caName);
  const caRevision = (await certificateState(ns, caName)).revision;
  t = Date.now();
  await triggerRenewal(ns, caName);
  await waitForRevision(ns, caName, caRevision);
  const newCa = await secretCertificate(ns, caName);
  expect(newCa.serialNumber).not.toBe(oldCa.serialNumber);
  expect(publicKeyOf(newCa)).toBe(publicKeyOf(oldCa));
  expect(renewed.checkIssued(newCa) && renewed.verify(newCa.publicKey)).toBe(true);
  // cainjector (its CAInjectorMerging feature, GA and on in v1.21) adds the renewed CA
  // to the bundle and keeps the old one until it expires: either would verify both.
  await eventually(
    'cainjector to add the renewed CA to the bundle',
    async () => {
      const bundle = fingerprintsOf(await vwc());
      return bundle.includes(newCa.fingerprint256) ? bundle : undefined;
    },
    60_000,
  ).then((bundle) =>
    expect(bundle).toEqual(
      merging ? [oldCa.fingerprint256, newCa.fingerprint256] : [newCa.fingerprint256],
    ),
  );
  figures.push(`CA renewal issued and injected in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  // 3. Serving renewal under the renewed CA: the old bundle would verify it too.
  const bundleAfterCa = await vwc();
  t = Date.now();
  await triggerRenewal(ns, webhook);
  await waitForRevision(ns, webhook, revision);
  const third = await secretCertificate(ns, servingSecret);
  expect(third.checkIssued(oldCa) && third.verify(oldCa.publicKey)).toBe(true);
  figures.push(
    `second serving renewal served by both replicas after ${((await waitUntilServed(third, t)) / 1000).toFixed(1)} s`,
  );
  expect(await vwc()).toBe(bundleAfterCa);

  // A few more syncs of the kubelet (10 s) with the load still on, then the count.
  await new Promise((resolve) => setTimeout(resolve, 15_000));
  return figures;
}

/** A release of its own and cert-manager processes for one scenario (a describe block). */
function scenario(mergingCAs: boolean): void {
  beforeAll(async () => {
    if ('unavailable' in build) return;
    merging = mergingCAs;
    release = `cm-${randomBytes(2).toString('hex')}`;
    fullname = `${release}-genome-operator`;
    webhook = `${fullname}-webhook`;
    caName = `${webhook}-ca`;
    crds = await installCertManagerCrds(build.dir);
    certManager = startCertManager(build.dir, mergingCAs ? [] : ['CAInjectorMerging=false']);
    ns = await uniqueNamespace('genome-cm');
    apps = await uniqueNamespace('cm-apps');
    await applyHarnessDefaultPolicy();
    await yieldDefaultPolicyToChart();
  });

  afterAll(async () => {
    if (ns) await helm(['uninstall', release, '--namespace', ns, '--wait', '--timeout', '2m']);
    await applyHarnessDefaultPolicy();
    if (ns)
      await kubectl(['delete', 'namespace', ns, apps, '--wait=false'], { allowFailure: true });
    await certManager?.stop();
    // Gone before the next scenario applies them again (a CRD being deleted refuses an apply).
    if (crds.length)
      await kubectl(['delete', 'crd', ...crds, '--timeout=90s'], { allowFailure: true });
  }, 240_000);
}

const maybe = 'unavailable' in build ? describe.skip : describe;

// cert-manager's cainjector as it ships (CAInjectorMerging: a new CA is added to the bundle),
// and as before that feature (the bundle replaced): the chain must not need the merging.
maybe.each([
  { title: 'cainjector merging CAs (its default)', mergingCAs: true },
  { title: 'cainjector replacing the bundle (CAInjectorMerging=false)', mergingCAs: false },
])('cert-manager mode with a real cert-manager, $title', ({ mergingCAs }) => {
  scenario(mergingCAs);

  it(
    'installs: cert-manager issues the CA and the serving certificate, cainjector injects the CA',
    { timeout: 420_000 },
    async () => {
      const ms = await installChart();
      console.log(`helm install --wait in cert-manager mode to Ready: ${(ms / 1000).toFixed(1)} s`);
      for (const name of [caName, webhook])
        expect((await certificateState(ns, name)).ready).toBe(true);
      const ca = await secretCertificate(ns, caName);
      const serving = await secretCertificate(ns, servingSecret);
      expect(ca.ca).toBe(true);
      expect(serving.checkIssued(ca) && serving.verify(ca.publicKey)).toBe(true);
      for (const kind of ['validatingwebhookconfiguration', 'mutatingwebhookconfiguration'])
        expect(fingerprintsOf(await injectedBundle(kind, fullname)), kind).toEqual([
          ca.fingerprint256,
        ]);
      await waitUntilServed(serving, Date.now());
    },
  );

  it(
    'renews the serving certificate, then the CA, then the serving certificate again while Genomes are admitted: no admission fails',
    { timeout: 900_000 },
    async () => {
      const load = startAdmissions();
      // The writers stop whatever happens; stop() again only reads their counts.
      const figures = await renewals(load).finally(() => load.stop());
      const { ok, failures } = await load.stop();
      console.log([...figures, `admissions: ${ok} admitted, ${failures.length} failed`].join('\n'));
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(100);
    },
  );
});

// The chain this chart had before (a self-signed Issuer signing the serving certificate, the
// bundle taken from it), rebuilt with a self-signed issuerRef, under a cainjector that replaces
// the bundle: the renewal outage the chain above removes, so this test can see one.
maybe(
  'negative control: a self-signed issuerRef under a cainjector that replaces the bundle',
  () => {
    scenario(false);

    it(
      'refuses admissions while a serving renewal reaches the replicas',
      { timeout: 600_000 },
      async () => {
        await kubectl(['apply', '-n', ns, '-f', '-'], {
          input: JSON.stringify({
            apiVersion: 'cert-manager.io/v1',
            kind: 'Issuer',
            metadata: { name: 'self-signed' },
            spec: { selfSigned: {} },
          }),
        });
        await installChart([
          ...['--set', 'webhook.tls.certManager.issuerRef.kind=Issuer'],
          ...['--set', 'webhook.tls.certManager.issuerRef.name=self-signed'],
        ]);
        await waitUntilServed(await secretCertificate(ns, servingSecret), Date.now());
        const load = startAdmissions();
        const revision = (await certificateState(ns, webhook)).revision;
        const t = Date.now();
        await triggerRenewal(ns, webhook);
        await waitForRevision(ns, webhook, revision);
        await waitUntilServed(await secretCertificate(ns, servingSecret), t).finally(() =>
          load.stop(),
        );
        const { ok, failures } = await load.stop();
        const at = (f: string) => Date.parse(f.slice(0, f.indexOf(' ')));
        const window = failures.length ? (at(failures.at(-1)!) - at(failures[0]!)) / 1000 : 0;
        console.log(
          `self-signed serving renewal, bundle replaced: ${ok} admitted, ${failures.length} ` +
            `failed over ${window.toFixed(1)} s; first: ${failures[0]?.slice(0, 300)}`,
        );
        expect(failures.length).toBeGreaterThan(0);
      },
    );
  },
);
