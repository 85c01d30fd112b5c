// Which pods reach the pod mutating webhook: the real webhook process, registered with
// core/webhook-config.ts's podWebhookConfiguration, counts every request it receives in
// genome_webhook_requests_total{endpoint="mutate-pod"}. Unlabelled pods, and labelled pods in
// kube-system or in the webhook's own namespace, are never sent to it (the object and namespace
// selectors); a labelled pod in an ordinary namespace is. No node: pods are admitted and
// stay Pending, which is all admission needs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENOME_LABEL, VERIFIED_READINESS_GATE } from '../core/api.ts';
import { genomeId } from '../core/canonical.ts';
import { podWebhookConfiguration } from '../core/webhook-config.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { eventually, installGenomeCrd, kubectl, uniqueNamespace } from './support/cluster.ts';
import {
  podWebhookAnswers,
  startWebhook,
  webhookRequests,
  type RunningWebhook,
} from './support/webhook.ts';

const ROOT = join(import.meta.dirname, '..');
const totk = JSON.parse(
  readFileSync(join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0', 'genome.json'), 'utf8'),
) as Record<string, unknown>;
const TOTK_ID = genomeId(totk);

let ns: string;
let ownNamespace: string;
let configName: string;
let webhook: RunningWebhook | undefined;
const systemPod = `labelled-${process.pid}-${Date.now().toString(36)}`;

const pod = (name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: { containers: [{ name: 'app', image: 'genome.local/mathison-reference:v1' }] },
});

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

/** The TOTK Genome with the status the operator writes once it has verified and published it. */
async function verifiedGenome(name: string): Promise<void> {
  await kubectl(['apply', '-n', ns, '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'Genome',
      metadata: { name },
      spec: { genome: totk },
    }),
  });
  const now = new Date().toISOString().slice(0, 19) + 'Z';
  const condition = (type: string, reason: string) => ({
    type,
    status: 'True',
    reason,
    message: 'ok',
    lastTransitionTime: now,
    observedGeneration: 1,
  });
  const status = {
    observedGeneration: 1,
    genomeId: TOTK_ID,
    shortId: TOTK_ID.slice(0, 12),
    verifiedSigners: ['TEST-ONLY-totk-key-001'],
    configMapName: `${name}-${TOTK_ID.slice(0, 12)}`,
    conditions: [condition('Verified', 'Verified'), condition('Ready', 'Published')],
  };
  await kubectl([
    ...['patch', 'genome', name, '-n', ns, '--subresource=status', '--type=merge'],
    ...['-p', JSON.stringify({ status })],
  ]);
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
  await podWebhookAnswers(ns, pod('probe', { [GENOME_LABEL]: 'totk' }), VERIFIED_READINESS_GATE);
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
    const stored = await createPod(ns, pod('labelled', { [GENOME_LABEL]: 'totk' }));
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
    const object = pod('tokenless', { [GENOME_LABEL]: 'totk' });
    Object.assign(object.spec, { automountServiceAccountToken: false });
    const stored = await createPod(ns, object);
    expect(await mutations()).toBe(before + 1);
    expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBe(TOTK_ID);
  });

  it('does not move for an unlabelled pod, which is stored untouched', async () => {
    const before = await mutations();
    const stored = await createPod(ns, pod('unlabelled', { app: 'plain' }));
    expect(await mutations()).toBe(before);
    expect(stored.metadata.annotations?.['genome.mathison.io/id']).toBeUndefined();
    expect(stored.spec.readinessGates).toBeUndefined();
  });

  it('does not move for labelled pods in kube-system and in the webhook’s own namespace', async () => {
    // Neither namespace has a Genome "totk": had the webhook been asked, it would have refused
    // them (GENOME_MISSING), so their creation also shows it was not.
    const before = await mutations();
    const system = await createPod('kube-system', pod(systemPod, { [GENOME_LABEL]: 'totk' }));
    const own = await createPod(ownNamespace, pod('labelled', { [GENOME_LABEL]: 'totk' }));
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
