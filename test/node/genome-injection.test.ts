// Genomes on real pods, end to end: the real operator process (under its least-privilege
// ServiceAccount) verifies the Genomes, publishes their ConfigMaps and drives the readiness gate;
// the real webhook process (same TLS as the validating one) injects a verified Genome into a
// labelled Deployment's pods and refuses pods naming a missing or unverified Genome; the
// injected boot check refuses a ConfigMap replaced after admission. Revoking the key takes the
// pods out of the Service's endpoints without a restart, and restoring it brings them back.
import { join } from 'node:path';
import {
  CoreV1Api,
  DiscoveryV1Api,
  Watch,
  type V1Pod,
  type V1Secret,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFIED_READINESS_GATE } from '../../core/api.ts';
import type { Genome } from '../../core/genome.ts';
import { genomeManifest } from '../../core/manifest.ts';
import { genome, keyPair, signedBy, trustSecret } from '../builders/index.ts';
import { podWebhookConfiguration } from '../../core/webhook-config.ts';
import { pickFreePorts } from '../../cluster/ports.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from '../support/cluster.ts';
import {
  operatorCredentials,
  readGenome,
  removeOperatorCredentials,
  startOperator,
  type RunningOperator,
} from '../support/operator.ts';
import { podWebhookAnswers, startWebhook, type RunningWebhook } from '../support/webhook.ts';
import {
  configMapNameFor,
  healthOf,
  mathisonContainer,
  publishedConfigMap,
  tamperedTotk,
  totk,
} from './genome-fixtures.ts';
import { apply, hasCondition, readPod, waitForPod } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const LABEL = 'genome.mathison.io/genome';
const totkKey = (JSON.parse(totk.trust) as { key_id: string; public_key: string }[])[0]!;
/** A key that stays trusted when the TEST key is revoked (so the key set is never empty). */
const other = keyPair('other-key-001');
const mallory = keyPair('mallory-key');
let ns: string;
let ownNamespace: string;
let configName: string;
let kubeconfig: string;
let operator: RunningOperator | undefined;
let webhook: RunningWebhook | undefined;
const core = () => kubeClient().makeApiClient(CoreV1Api);

/** The trust Secret: the TEST key (marked as a test key) when `withTotk`, and `other`. */
function trust(withTotk: boolean): V1Secret {
  const keys = {
    [other.keyId]: other.publicKey,
    ...(withTotk && { [totkKey.key_id]: totkKey.public_key }),
  };
  return trustSecret(ownNamespace, 'trusted-keys', keys, [totkKey.key_id]) as V1Secret;
}

/** Replaces the trust Secret; returns when the API server has stored it. */
async function setTrust(withTotk: boolean): Promise<void> {
  await core().replaceNamespacedSecret({
    namespace: ownNamespace,
    name: 'trusted-keys',
    body: trust(withTotk),
  });
}

async function applyGenome(name: string, genome: unknown): Promise<void> {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeManifest(genome as Genome, name, ns)),
  });
}

/** Waits until the operator has decided the Genome's Verified condition. */
async function verifiedIs(name: string, status: 'True' | 'False') {
  return eventually(`Genome ${name} Verified=${status}`, async () => {
    const genome = await readGenome(ns, name);
    const verified = genome?.status?.conditions?.find((c) => c.type === 'Verified');
    const ready = genome?.status?.conditions?.find((c) => c.type === 'Ready');
    const settled = status === 'False' || ready?.status === 'True';
    return verified?.status === status && settled ? genome : undefined;
  });
}

async function runOperator(identity: string): Promise<RunningOperator> {
  return startOperator({ namespace: ownNamespace, kubeconfig, identity });
}

const labelledPod = (name: string, genome: string, extra: object = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { [LABEL]: genome } },
  spec: { restartPolicy: 'Never', containers: [mathisonContainer()], ...extra },
});

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  ns = await uniqueNamespace('mathison');
  configName = `genome-pods-${ns}`;
  await core().createNamespacedSecret({ namespace: ownNamespace, body: trust(true) });
  kubeconfig = await operatorCredentials(ownNamespace);
  operator = await runOperator('operator-0');
  await applyGenome('totk', totk.genome);
  await applyGenome('untrusted', genome(signedBy(mallory)));
  await verifiedIs('totk', 'True');
  await verifiedIs('untrusted', 'False');
  const [port] = await pickFreePorts(1);
  const url = `https://127.0.0.1:${port}/mutate-pod`;
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(podWebhookConfiguration(configName, ownNamespace, { url })),
  });
  webhook = await startWebhook({
    namespace: ownNamespace,
    configName: `unused-${configName}`,
    port,
    env: { WEBHOOK_MUTATING_CONFIGURATIONS: configName, GENOME_BOOT_CHECK_PULL_POLICY: 'Never' },
  });
  await podWebhookAnswers(ns, labelledPod('probe', 'totk'), VERIFIED_READINESS_GATE);
}, 240_000);

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
  await operator?.stop();
  await removeOperatorCredentials(ownNamespace);
});

/** The Deployment's pods, once `count` of them exist. */
async function podsOf(app: string, count: number): Promise<V1Pod[]> {
  return eventually(`${count} pods of ${app}`, async () => {
    const list = await core().listNamespacedPod({ namespace: ns, labelSelector: `app=${app}` });
    const live = list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
    return live.length === count ? live : undefined;
  });
}

/** The addresses the Service's EndpointSlices list as ready. */
async function readyEndpoints(service: string): Promise<string[]> {
  const slices = await kubeClient()
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({
      namespace: ns,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready === true)
    .flatMap((e) => e.addresses)
    .sort();
}

const gateStatus = (pod: V1Pod) =>
  pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE)?.status;
const readyStatus = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === 'Ready')?.status;
const restarts = (pod: V1Pod) =>
  (pod.status?.containerStatuses ?? []).map((c) => `${c.name}:${c.restartCount}`);

/**
 * Watches the pods of `app` and records, per pod, when the gate condition and then Ready were
 * first seen with `status` (milliseconds after `start()`).
 */
function watchFlips(app: string, status: 'True' | 'False') {
  const gate = new Map<string, number>();
  const ready = new Map<string, number>();
  let t0 = 0;
  const request = new Watch(kubeClient()).watch(
    `/api/v1/namespaces/${ns}/pods`,
    { labelSelector: `app=${app}` },
    (_type, pod: V1Pod) => {
      const name = pod.metadata?.name ?? '';
      if (t0 === 0) return;
      const now = performance.now() - t0;
      if (gateStatus(pod) === status && !gate.has(name)) gate.set(name, now);
      if (readyStatus(pod) === status && !ready.has(name)) ready.set(name, now);
    },
    () => {},
  );
  return {
    /** Starts the clock once the watch is open. */
    start: async () => {
      await request;
      t0 = performance.now();
    },
    gate,
    ready,
    stop: async () => (await request).abort(),
  };
}

describe('a labelled Deployment behind a Service', () => {
  let pods: V1Pod[];

  it('gets the volume, mount, variable, id annotation, gate and boot check; the boot check passes', async () => {
    await apply(
      ns,
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'mathison' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'mathison' } },
          template: {
            metadata: { labels: { app: 'mathison', [LABEL]: 'totk' } },
            spec: { containers: [mathisonContainer()] },
          },
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'mathison' },
        spec: { selector: { app: 'mathison' }, ports: [{ port: 80, targetPort: 3000 }] },
      },
    );
    const names = (await podsOf('mathison', 2)).map((p) => p.metadata!.name!);
    pods = await Promise.all(
      names.map((name) =>
        waitForPod(
          ns,
          name,
          'running its app container',
          (p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined,
        ),
      ),
    );
    const pod = pods[0]!;
    expect(pod.metadata?.annotations?.['genome.mathison.io/id']).toBe(totk.id);
    expect(JSON.parse(pod.metadata?.annotations?.['genome.mathison.io/injection'] ?? '{}')).toEqual(
      {
        genomeId: totk.id,
        configMap: configMapNameFor('totk', totk.id),
        containers: ['mathison'],
        bootCheck: true,
      },
    );
    expect(pod.spec?.volumes).toContainEqual(
      expect.objectContaining({
        name: 'mathison-genome',
        configMap: expect.objectContaining({ name: configMapNameFor('totk', totk.id) }),
      }),
    );
    const app = pod.spec?.containers[0];
    expect(app?.volumeMounts).toContainEqual({
      name: 'mathison-genome',
      mountPath: '/etc/mathison/genome',
      readOnly: true,
    });
    expect(app?.env).toContainEqual({
      name: 'MATHISON_GENOME_PATH',
      value: '/etc/mathison/genome/genome.json',
    });
    expect(pod.spec?.readinessGates).toEqual([{ conditionType: VERIFIED_READINESS_GATE }]);
    expect(pod.spec?.initContainers?.map((c) => c.name)).toEqual(['genome-verify']);
    expect(pod.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
  });

  it('becomes Ready through the gate the operator opens; /health reports the Genome status id; the Service lists both pods', async () => {
    const ready = await Promise.all(
      pods.map((p) => waitForPod(ns, p.metadata!.name!, 'Ready', (q) => hasCondition(q, 'Ready'))),
    );
    for (const pod of ready) {
      const gate = pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE);
      expect(gate).toMatchObject({ status: 'True', reason: 'Verified' });
    }
    const status = (await readGenome(ns, 'totk'))?.status;
    const health = await healthOf(kubectl, ns, pods[0]!.metadata!.name!);
    expect(
      (health.governance as { genome: { genome_id_full: string } }).genome.genome_id_full,
    ).toBe(status?.genomeId);
    expect(JSON.stringify(health)).toContain(`"genome_id":"${status?.genomeId?.slice(0, 16)}..."`);
    const ips = ready.map((p) => p.status!.podIP!).sort();
    await eventually('both pods in the endpoints', async () =>
      JSON.stringify(await readyEndpoints('mathison')) === JSON.stringify(ips) ? true : undefined,
    );
  });

  it('revoking the key takes every pod out of the endpoints without a restart; restoring it brings them back', async () => {
    const names = pods.map((p) => p.metadata!.name!);
    const before = await Promise.all(names.map((n) => readPod(ns, n)));
    for (const [status, withTotk] of [
      ['False', false],
      ['True', true],
    ] as const) {
      const flips = watchFlips('mathison', status);
      await flips.start();
      const t0 = performance.now();
      await setTrust(withTotk);
      const written = performance.now() - t0;
      const after = await Promise.all(
        names.map((n) =>
          waitForPod(ns, n, `gate and Ready ${status}`, (p) => readyStatus(p) === status),
        ),
      );
      await eventually(`endpoints ${status === 'True' ? 'back' : 'empty'}`, async () => {
        const ready = await readyEndpoints('mathison');
        return ready.length === (status === 'True' ? 2 : 0) ? true : undefined;
      });
      await flips.stop();
      for (const pod of after) {
        const gate = pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE);
        expect(gate?.status).toBe(status);
        if (status === 'False') {
          expect(gate?.reason).toBe('GENOME_UNTRUSTED_SIGNER');
          expect(gate?.message).toMatch(/TEST-ONLY-totk-key-001/);
        }
      }
      // No restart: the same pods, the same containers.
      expect(after.map((p) => p.metadata?.uid)).toEqual(before.map((p) => p.metadata?.uid));
      expect(after.map(restarts)).toEqual(before.map(restarts));
      const figures = names.map((n) => {
        const gate = flips.gate.get(n) ?? NaN;
        const ready = flips.ready.get(n) ?? NaN;
        return `${n}: gate ${gate.toFixed(0)} ms, Ready ${ready.toFixed(0)} ms (kubelet +${(ready - gate).toFixed(0)} ms)`;
      });
      // Figures, not assertions (speed is the benchmark's to judge): from the Secret write.
      console.log(
        `[gate] trust ${withTotk ? 'restored' : 'revoked'} (Secret write ${written.toFixed(0)} ms); ${figures.join('; ')}`,
      );
    }
  });
});

describe('fail closed', () => {
  it.each([
    ['a missing Genome', 'nowhere', /GENOME_MISSING: Genome .*\/nowhere does not exist/],
    [
      'an unverified Genome, with its reason',
      'untrusted',
      // The refusal names the policy that refused it (docs/trust-policies.md).
      /GENOME_NOT_VERIFIED: .*GENOME_UNTRUSTED_SIGNER: policy default: none of the signers \(mallory-key\) is a trusted key/,
    ],
  ])('refuses a pod naming %s with the code', async (_what, genome, message) => {
    const out = await kubectl(['create', '-n', ns, '-f', '-'], {
      input: JSON.stringify(labelledPod(`refused-${genome}`, genome)),
      allowFailure: true,
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(message);
    const list = await core().listNamespacedPod({ namespace: ns });
    expect(list.items.map((p) => p.metadata?.name)).not.toContain(`refused-${genome}`);
  });

  it('a ConfigMap replaced by hand after admission: the boot check refuses, the app never starts, the operator puts it back', async () => {
    // A Genome of its own: the kubelet keeps serving the content of an immutable ConfigMap it
    // already holds for a running pod, even after it is deleted and re-created, so a replaced
    // ConfigMap shows only to pods on nodes that did not have it yet (seen here with 'totk').
    await applyGenome('solo', totk.genome);
    await verifiedIs('solo', 'True');
    const cm = configMapNameFor('solo', totk.id);
    const genuine = (await core().readNamespacedConfigMap({ namespace: ns, name: cm })).data;
    // A scheduling gate holds the admitted pod until the ConfigMap has been replaced.
    await apply(
      ns,
      labelledPod('swapped', 'solo', {
        schedulingGates: [{ name: 'test.genome.mathison.io/hold' }],
      }),
    );
    const admitted = await readPod(ns, 'swapped');
    expect(admitted.metadata?.annotations?.['genome.mathison.io/id']).toBe(totk.id);
    // The operator would put the ConfigMap back at once: stopped, the swap is what the
    // kubelet mounts.
    await operator?.stop();
    operator = undefined;
    await kubectl(['delete', 'configmap', cm, '-n', ns]);
    await apply(ns, publishedConfigMap(cm, tamperedTotk(), totk.id));
    await kubectl([
      'patch',
      'pod',
      'swapped',
      '-n',
      ns,
      '--type=json',
      '-p',
      '[{"op":"remove","path":"/spec/schedulingGates"}]',
    ]);
    const failed = await waitForPod(
      ns,
      'swapped',
      'boot check terminated',
      (p) => p.status?.initContainerStatuses?.[0]?.state?.terminated !== undefined,
    );
    expect(failed.status?.initContainerStatuses?.[0]?.state?.terminated?.exitCode).toBe(1);
    expect(failed.status?.containerStatuses?.[0]?.state?.running).toBeUndefined();
    expect(failed.status?.containerStatuses?.[0]?.state?.terminated).toBeUndefined();
    const logs = await kubectl(['logs', '-n', ns, 'swapped', '-c', 'genome-verify']);
    expect(JSON.parse(logs.stdout)).toMatchObject({ code: 'GENOME_INVALID_SIGNATURE' });
    operator = await runOperator('operator-1');
    await eventually('the operator to put the ConfigMap back', async () => {
      const now = await core()
        .readNamespacedConfigMap({ namespace: ns, name: cm })
        .catch(() => undefined);
      return JSON.stringify(now?.data) === JSON.stringify(genuine) ? true : undefined;
    });
  });
});
