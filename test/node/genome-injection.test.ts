// The pod mutating webhook on real pods: the real webhook process (same TLS as the validating
// one) injects a verified Genome into a labelled Deployment's pods, refuses pods naming a
// missing or unverified Genome, and the injected boot check refuses a ConfigMap replaced after
// admission.
//
// Until the operator is merged, this test plays the operator's part itself: it creates the
// published ConfigMap and writes the Genome status in the operator's documented shape
// (genomeId, shortId, verifiedSigners, configMapName, Verified/Ready conditions), and it sets
// the readiness gate condition genome.mathison.io/verified True through pods/status, which the
// operator will do. The lead switches this to the real operator when it lands.
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VERIFIED_READINESS_GATE } from '../../core/api.ts';
import { podWebhookConfiguration } from '../../core/webhook-config.ts';
import { pickFreePorts } from '../../cluster/ports.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from '../support/cluster.ts';
import { startWebhook, type RunningWebhook } from '../support/webhook.ts';
import {
  configMapNameFor,
  healthOf,
  mathisonContainer,
  publishedConfigMap,
  tamperedTotk,
  totk,
} from './genome-fixtures.ts';
import { apply, hasCondition, podOf, readPod, waitForPod } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const LABEL = 'genome.mathison.io/genome';
let ns: string;
let ownNamespace: string;
let configName: string;
let webhook: RunningWebhook | undefined;

/** A Genome of the TOTK genome; the validating webhook is not registered here. */
const genomeObject = (name: string) => ({
  apiVersion: 'mathison.io/v1alpha1',
  kind: 'Genome',
  metadata: { name },
  spec: { genome: totk.genome },
});

/** Writes the Genome status as the operator does (the operator is not running in this test). */
async function writeStatus(name: string, verified: boolean): Promise<void> {
  const read = await kubectl(['get', 'genome', name, '-n', ns, '-o', 'json']);
  const generation = (JSON.parse(read.stdout) as { metadata: { generation: number } }).metadata
    .generation;
  const now = new Date().toISOString().slice(0, 19) + 'Z';
  const condition = (type: string) =>
    verified
      ? {
          type,
          status: 'True',
          reason: type === 'Verified' ? 'Verified' : 'Published',
          message: 'ok',
          lastTransitionTime: now,
          observedGeneration: generation,
        }
      : {
          type,
          status: 'False',
          reason: 'GENOME_UNTRUSTED_SIGNER',
          message: 'TEST-ONLY-totk-key-001 is not a trusted key',
          lastTransitionTime: now,
          observedGeneration: generation,
        };
  const status = {
    observedGeneration: generation,
    conditions: [condition('Verified'), condition('Ready')],
    ...(verified && {
      genomeId: totk.id,
      shortId: totk.id.slice(0, 12),
      verifiedSigners: ['TEST-ONLY-totk-key-001'],
      configMapName: configMapNameFor(name, totk.id),
    }),
  };
  await kubectl([
    'patch',
    'genome',
    name,
    '-n',
    ns,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

/** Sets the gate's condition through pods/status, as the operator will (never Ready itself). */
async function openGate(pod: string): Promise<void> {
  const patch = {
    status: {
      conditions: [
        {
          type: VERIFIED_READINESS_GATE,
          status: 'True',
          reason: 'Verified',
          message: 'set by the test in place of the operator',
        },
      ],
    },
  };
  await kubectl([
    'patch',
    'pod',
    pod,
    '-n',
    ns,
    '--subresource=status',
    '--type=strategic',
    '-p',
    JSON.stringify(patch),
  ]);
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
  await apply(ns, genomeObject('totk'), genomeObject('untrusted'));
  await apply(ns, publishedConfigMap(configMapNameFor('totk', totk.id), totk.text, totk.id));
  await writeStatus('totk', true);
  await writeStatus('untrusted', false);
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
  // Until the API server has the caBundle the webhook publishes, labelled pods fail closed.
  await eventually(
    'the API server to call the pod webhook over TLS',
    async () => {
      const out = await kubectl(['create', '--dry-run=server', '-n', ns, '-f', '-', '-o', 'json'], {
        input: JSON.stringify(labelledPod('probe', 'totk')),
        allowFailure: true,
      });
      return out.stdout.includes(VERIFIED_READINESS_GATE) ? true : undefined;
    },
    30_000,
  );
}, 180_000);

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
});

describe('a labelled Deployment', () => {
  let pod: V1Pod;

  it('gets the volume, mount, variable, id annotation, gate and boot check; the boot check passes', async () => {
    await apply(ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'mathison' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'mathison' } },
        template: {
          metadata: { labels: { app: 'mathison', [LABEL]: 'totk' } },
          spec: { containers: [mathisonContainer()] },
        },
      },
    });
    const name = await podOf(ns, 'mathison');
    pod = await waitForPod(
      ns,
      name,
      'running its app container',
      (p) => p.status?.containerStatuses?.[0]?.state?.running !== undefined,
    );
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

  it('is not Ready until the gate condition is True; then Ready, and /health reports the Genome status id', async () => {
    const name = pod.metadata!.name!;
    // The container is ready (its probe passes) but the gate holds the pod back.
    await waitForPod(ns, name, 'containers ready', (p) => hasCondition(p, 'ContainersReady'));
    expect(hasCondition(await readPod(ns, name), 'Ready')).toBe(false);
    await openGate(name);
    await waitForPod(ns, name, 'Ready', (p) => hasCondition(p, 'Ready'));
    const status = JSON.parse(
      (await kubectl(['get', 'genome', 'totk', '-n', ns, '-o', 'json'])).stdout,
    ).status;
    const health = await healthOf(kubectl, ns, name);
    expect(
      (health.governance as { genome: { genome_id_full: string } }).genome.genome_id_full,
    ).toBe(status.genomeId);
    expect(JSON.stringify(health)).toContain(`"genome_id":"${status.genomeId.slice(0, 16)}..."`);
  });
});

describe('fail closed', () => {
  it.each([
    ['a missing Genome', 'nowhere', /GENOME_MISSING: Genome .*\/nowhere does not exist/],
    [
      'an unverified Genome, with its reason',
      'untrusted',
      /GENOME_NOT_VERIFIED: .*GENOME_UNTRUSTED_SIGNER: TEST-ONLY-totk-key-001 is not a trusted key/,
    ],
  ])('refuses a pod naming %s with the code', async (_what, genome, message) => {
    const out = await kubectl(['create', '-n', ns, '-f', '-'], {
      input: JSON.stringify(labelledPod(`refused-${genome}`, genome)),
      allowFailure: true,
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(message);
    const list = await kubeClient().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
    expect(list.items.map((p) => p.metadata?.name)).not.toContain(`refused-${genome}`);
  });

  it('a ConfigMap replaced by hand after admission: the boot check refuses and the app never starts', async () => {
    // A Genome of its own: the kubelet keeps serving the content of an immutable ConfigMap it
    // already holds for a running pod, even after it is deleted and re-created, so a replaced
    // ConfigMap shows only to pods on nodes that did not have it yet (seen here with 'totk').
    await apply(ns, genomeObject('solo'));
    await writeStatus('solo', true);
    const cm = configMapNameFor('solo', totk.id);
    await apply(ns, publishedConfigMap(cm, totk.text, totk.id));
    // A scheduling gate holds the admitted pod until the ConfigMap has been replaced.
    await apply(
      ns,
      labelledPod('swapped', 'solo', {
        schedulingGates: [{ name: 'test.genome.mathison.io/hold' }],
      }),
    );
    const admitted = await readPod(ns, 'swapped');
    expect(admitted.metadata?.annotations?.['genome.mathison.io/id']).toBe(totk.id);
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
  });
});
