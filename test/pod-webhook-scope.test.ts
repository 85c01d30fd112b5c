// Which pods reach the pod mutating webhook: the real webhook process, registered with
// core/webhook-config.ts's podWebhookConfiguration, counts every request it receives in
// genome_webhook_requests_total{endpoint="mutate-pod"}. Unlabelled pods, and labelled pods in
// kube-system or in the webhook's own namespace, are never sent to it (the object and namespace
// selectors); a labelled pod in an ordinary namespace is. No node: pods are admitted and
// stay Pending, which is all admission needs.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENOME_LABEL, VERIFIED_READINESS_GATE } from '../core/api.ts';
import { genomeId } from '../core/canonical.ts';
import type { Genome } from '../core/genome.ts';
import { podWebhookConfiguration } from '../core/webhook-config.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { eventually, installGenomeCrd, kubectl, uniqueNamespace } from './support/cluster.ts';
import {
  podWebhookAnswers,
  startWebhook,
  webhookRequests,
  type RunningWebhook,
} from './support/webhook.ts';
import {
  container,
  genome,
  keyPair,
  labelled,
  named,
  naming,
  pod,
  publishedGenome,
  signedBy,
  totkGenome,
} from './builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const totk = totkGenome();
const TOTK_ID = genomeId(totk);

let ns: string;
let ownNamespace: string;
let configName: string;
let webhook: RunningWebhook | undefined;
const systemPod = `labelled-${process.pid}-${Date.now().toString(36)}`;

/** The container of the pods here (it never runs: there is no node). */
const app = container('app', 'genome.local/mathison-reference:v1');

/** Creates a pod (it stays Pending: there is no node) and returns it as stored. */
async function createPod(namespace: string, object: object): Promise<Record<string, any>> {
  const out = await kubectl(['create', '-n', namespace, '-f', '-', '-o', 'json'], {
    input: JSON.stringify(object),
  });
  return JSON.parse(out.stdout) as Record<string, any>;
}

/** Pod creation needs the namespace's default ServiceAccount, made by the controller manager. */
async function waitForServiceAccount(namespace: string): Promise<void> {
  await eventually(`the default ServiceAccount of ${namespace}`, async () => {
    const got = await kubectl(['get', 'serviceaccount', 'default', '-n', namespace], {
      allowFailure: true,
    });
    return got.code === 0 ? true : undefined;
  });
}

/** Creates an object (kubectl create) and returns it as stored. */
async function create(namespace: string, object: object): Promise<Record<string, any>> {
  const out = await kubectl(['create', '-n', namespace, '-f', '-', '-o', 'json'], {
    input: JSON.stringify(object),
  });
  return JSON.parse(out.stdout) as Record<string, any>;
}

/** Writes a Genome's status through the status subresource, as the operator (or a forger) does. */
async function writeStatus(name: string, status: object): Promise<void> {
  await kubectl([
    ...['patch', 'genome', name, '-n', ns, '--subresource=status', '--type=merge'],
    ...['-p', JSON.stringify({ status })],
  ]);
}

/**
 * A Genome of `genome` with what the operator writes once it has verified it: its immutable
 * ConfigMap (owned by the Genome, named for the id) and its status.
 */
async function verifiedGenome(name: string, genome: Genome = totk): Promise<void> {
  const stored = await create(ns, {
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'Genome',
    metadata: { name },
    spec: { genome },
  });
  const published = publishedGenome({ name, namespace: ns, genome, uid: stored.metadata.uid });
  await create(ns, published.configMap);
  await writeStatus(name, published.genome.status!);
}

const mutations = () => webhookRequests(webhook!.port, 'mutate-pod');

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  ns = await uniqueNamespace('pod-scope');
  configName = `genome-pod-scope-${ns}`;
  await verifiedGenome('totk');
  const [port] = await pickFreePorts(1);
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(
      podWebhookConfiguration(configName, ownNamespace, {
        url: `https://127.0.0.1:${port}/mutate-pod`,
      }),
    ),
  });
  webhook = await startWebhook({
    namespace: ownNamespace,
    configName: `unused-${configName}`,
    port,
    env: { WEBHOOK_MUTATING_CONFIGURATIONS: configName },
  });
  await Promise.all([ns, ownNamespace, 'kube-system'].map(waitForServiceAccount));
  await podWebhookAnswers(ns, pod('probe', naming('totk'), app), VERIFIED_READINESS_GATE);
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await kubectl(['delete', 'pod', systemPod, '-n', 'kube-system', '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
});

describe('the pod webhook request metric', () => {
  it('counts a labelled pod in an ordinary namespace, and that pod is injected', async () => {
    const before = await mutations();
    const stored = await createPod(ns, pod('labelled', naming('totk'), app));
    // The API server calls it once, and again (reinvocationPolicy IfNeeded) when a built-in
    // plugin changed the pod after it: the ServiceAccount plugin mounts its token into the
    // injected init container. The second call patches nothing (injection is idempotent), and
    // the token mount stays.
    const calls = webhook!
      .output()
      .split('\n')
      .filter((l) => l.includes('"pod admitted"') && l.includes(`"namespace":"${ns}"`))
      .filter((l) => l.includes('"name":"labelled"'))
      .map((l) => (JSON.parse(l) as { patched: boolean }).patched);
    expect(calls).toEqual([true, false]);
    expect(await mutations()).toBe(before + 2);
    expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBe(TOTK_ID);
    expect(stored.spec.readinessGates).toEqual([{ conditionType: VERIFIED_READINESS_GATE }]);
    const mounts = (stored.spec.initContainers[0].volumeMounts as { mountPath: string }[]).map(
      (m) => m.mountPath,
    );
    expect(mounts).toContain('/etc/mathison/genome');
    expect(mounts).toContain('/var/run/secrets/kubernetes.io/serviceaccount');
  });

  it('counts a labelled pod without a ServiceAccount token once: nothing changes it after the webhook', async () => {
    const before = await mutations();
    const object = pod('tokenless', naming('totk'), app);
    Object.assign(object.spec, { automountServiceAccountToken: false });
    const stored = await createPod(ns, object);
    expect(await mutations()).toBe(before + 1);
    expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBe(TOTK_ID);
  });

  it('does not move for an unlabelled pod, which is stored untouched', async () => {
    const before = await mutations();
    const stored = await createPod(ns, pod('unlabelled', labelled({ app: 'plain' }), app));
    expect(await mutations()).toBe(before);
    expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBeUndefined();
    expect(stored.spec.readinessGates).toBeUndefined();
  });

  it('does not move for labelled pods in kube-system and in the webhook’s own namespace', async () => {
    // Neither namespace has a Genome "totk": had the webhook been asked, it would have refused
    // them (GENOME_MISSING), so their creation also shows it was not.
    const before = await mutations();
    const system = await createPod('kube-system', pod(systemPod, naming('totk'), app));
    const own = await createPod(ownNamespace, pod('labelled', naming('totk'), app));
    expect(await mutations()).toBe(before);
    for (const stored of [system, own]) {
      expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBeUndefined();
      expect(stored.spec.readinessGates).toBeUndefined();
    }
  });

  it('refuses taking the genome label off a labelled pod, or putting it on an unlabelled one; other label changes pass', async () => {
    const remove = await kubectl(['label', 'pod', 'labelled', '-n', ns, `${GENOME_LABEL}-`], {
      allowFailure: true,
    });
    expect(remove.code).not.toBe(0);
    expect(remove.stderr).toMatch(/POD_GENOME_LABEL_CHANGED: .*from totk to none/);
    const add = await kubectl(['label', 'pod', 'unlabelled', '-n', ns, `${GENOME_LABEL}=totk`], {
      allowFailure: true,
    });
    expect(add.code).not.toBe(0);
    expect(add.stderr).toMatch(/POD_GENOME_LABEL_CHANGED: .*from none to totk/);
    await kubectl(['label', 'pod', 'labelled', '-n', ns, 'team=blue']);
    const stored = JSON.parse(
      (await kubectl(['get', 'pod', 'labelled', '-n', ns, '-o', 'json'])).stdout,
    ) as { metadata: { labels: Record<string, string> } };
    expect(stored.metadata.labels).toMatchObject({ [GENOME_LABEL]: 'totk', team: 'blue' });
  });
});

describe('a forged Genome status (whoever can write genomes/status and ConfigMaps)', () => {
  const tenant = keyPair('tenant-key');
  const tenantGenome = genome(signedBy(tenant), named('TENANT_GENOME'));

  /** Tries to create a labelled pod until the webhook (its caches caught up) refuses it. */
  async function refusedPod(genome: string): Promise<string> {
    const object = pod(`p-${genome}`, naming(genome), app);
    return eventually(`a pod naming ${genome} to be refused`, async () => {
      const out = await kubectl(['create', '-n', ns, '-f', '-', '-o', 'json'], {
        input: JSON.stringify(object),
        allowFailure: true,
      });
      if (out.code === 0) {
        await kubectl(['delete', 'pod', object.metadata.name, '-n', ns, '--wait=false']);
        return undefined;
      }
      return out.stderr;
    });
  }

  it('refuses a pod when the status names a tenant ConfigMap', async () => {
    await verifiedGenome('forged-cm');
    await create(ns, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'my-forged-cm',
        labels: { 'app.kubernetes.io/managed-by': 'genome-operator' },
      },
      data: { 'genome.json': JSON.stringify(tenantGenome) },
    });
    await writeStatus('forged-cm', {
      genomeId: genomeId(tenantGenome),
      configMapName: 'my-forged-cm',
    });
    const stderr = await refusedPod('forged-cm');
    expect(stderr).toMatch(/GENOME_PUBLICATION_INVALID: Genome \S+\/forged-cm has a status/);
    expect(stderr).toMatch(/What to do:/);
  });

  it('refuses a pod when the status names a ConfigMap made to look like the Genome’s own publication of another genome', async () => {
    await verifiedGenome('forged-id');
    const genome = JSON.parse(
      (await kubectl(['get', 'genome', 'forged-id', '-n', ns, '-o', 'json'])).stdout,
    ) as { metadata: { uid: string } };
    // Owned by the Genome as its controller, named for the id, immutable, labelled: everything
    // the operator's publication has, but the genome is the tenant's own.
    const forged = publishedGenome({
      name: 'forged-id',
      namespace: ns,
      genome: tenantGenome,
      uid: genome.metadata.uid,
    });
    const cm = structuredClone(forged.configMap) as Record<string, any>;
    delete cm.metadata.ownerReferences[0].blockOwnerDeletion;
    await create(ns, cm);
    await writeStatus('forged-id', {
      genomeId: forged.genomeId,
      configMapName: forged.configMapName,
    });
    const stderr = await refusedPod('forged-id');
    expect(stderr).toMatch(/GENOME_PUBLICATION_INVALID: .*not the id of its spec\.genome/);
  });
});
