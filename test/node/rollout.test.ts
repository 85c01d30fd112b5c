// Automatic rollouts on real pods: the real operator (under its ServiceAccount) and the real pod
// webhook. A labelled Deployment of the reference Mathison container runs TOTK; a new version
// signed with the repository's TEST key is applied; the operator stamps the template, the
// Deployment rolls, and every running pod ends on the new id, which its /health reports.
// The operator also drives the readiness gate, so this is a true rolling update: the
// Deployment's default strategy waits for new pods to be Ready before it removes old ones.
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GENOME_ID_ANNOTATION, GENOME_LABEL } from '../../core/api.ts';
import { genomeId } from '../../core/canonical.ts';
import type { Genome } from '../../core/genome.ts';
import { genomeManifest } from '../../core/manifest.ts';
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
import { signWith, totkKeyPair, trustSecret } from '../builders/index.ts';
import { podWebhookAnswers, startWebhook, type RunningWebhook } from '../support/webhook.ts';
import { healthOf, mathisonContainer, totk } from './genome-fixtures.ts';
import { apply, hasCondition } from './support.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const signer = totkKeyPair();
const v1 = totk.genome as unknown as Genome;
const v2 = signWith({ ...v1, version: '1.0.1' }, signer);
const [id1, id2] = [genomeId(v1), genomeId(v2)];

let ownNamespace: string;
let ns: string;
let webhookConfig: string;
let operator: RunningOperator | undefined;
let webhook: RunningWebhook | undefined;

async function applyGenome(genome: Genome): Promise<void> {
  await apply(ns, genomeManifest(genome, 'mathison'));
}

async function published(id: string): Promise<void> {
  await eventually(`the Genome to publish ${id.slice(0, 12)}`, async () => {
    const g = await readGenome(ns, 'mathison');
    const ready = g?.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' &&
      g?.status?.observedGeneration === g?.metadata.generation &&
      g?.status?.genomeId === id
      ? true
      : undefined;
  });
}

const labels = { app: 'mathison', [GENOME_LABEL]: 'mathison' };

/** Waits until the Deployment has exactly `count` live pods, all Ready on `id`. */
async function allRunningOn(id: string, count: number): Promise<V1Pod[]> {
  return eventually(
    `${count} Ready pods on ${id.slice(0, 12)} and no other`,
    async () => {
      const list = await kubeClient()
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: 'app=mathison' });
      const live = list.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
      const running = live.filter(
        (p) => p.metadata?.annotations?.[GENOME_ID_ANNOTATION] === id && hasCondition(p, 'Ready'),
      );
      return live.length === count && running.length === count ? running : undefined;
    },
    120_000,
  );
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  ns = await uniqueNamespace('rollout');
  webhookConfig = `genome-pods-${ns}`;
  await apply(
    ownNamespace,
    trustSecret(ownNamespace, 'trusted-keys', { [signer.keyId]: signer.publicKey }, [signer.keyId]),
  );
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'rollout' });
  await applyGenome(v1);
  await published(id1);
  const [port] = await pickFreePorts(1);
  const config = podWebhookConfiguration(webhookConfig, ownNamespace, {
    url: `https://127.0.0.1:${port}/mutate-pod`,
  }) as { webhooks: { namespaceSelector: unknown }[] };
  config.webhooks[0]!.namespaceSelector = { matchLabels: { 'kubernetes.io/metadata.name': ns } };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(config) });
  webhook = await startWebhook({
    namespace: ownNamespace,
    configName: `unused-${webhookConfig}`,
    port,
    env: { WEBHOOK_MUTATING_CONFIGURATIONS: webhookConfig, GENOME_BOOT_CHECK_PULL_POLICY: 'Never' },
  });
  const probe = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe', labels },
    spec: { containers: [mathisonContainer()] },
  };
  await podWebhookAnswers(ns, probe, id1);
}, 180_000);

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', webhookConfig, '--ignore-not-found'], {
    allowFailure: true,
  });
  await kubectl(['delete', 'namespace', ns, '--wait=true', '--timeout=60s'], {
    allowFailure: true,
  });
  await webhook?.stop();
  await operator?.stop();
  await kubectl(['delete', 'namespace', ownNamespace, '--wait=false'], { allowFailure: true });
  await removeOperatorCredentials(ownNamespace);
});

describe('a new verified version of a Genome, on real pods', () => {
  it('rolls the labelled Deployment: every pod is replaced by a Ready one on the new id, and /health says so', async () => {
    await apply(ns, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'mathison', labels: { [GENOME_LABEL]: 'mathison' } },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'mathison' } },
        template: { metadata: { labels }, spec: { containers: [mathisonContainer()] } },
      },
    });
    const before = await allRunningOn(id1, 2);
    await applyGenome(v2);
    await published(id2);
    const after = await allRunningOn(id2, 2);
    const names = new Set(before.map((p) => p.metadata?.name));
    expect(after.filter((p) => names.has(p.metadata?.name))).toEqual([]);
    for (const pod of after) {
      const health = await eventually(`/health of ${pod.metadata?.name}`, async () =>
        healthOf(kubectl, ns, pod.metadata!.name!).catch(() => undefined),
      );
      const genome = (health.governance as { genome: Record<string, unknown> }).genome;
      expect(genome.genome_id_full).toBe(id2);
      expect(genome.version).toBe('1.0.1');
    }
    const deployment = JSON.parse(
      (await kubectl(['get', 'deployment', 'mathison', '-n', ns, '-o', 'json'])).stdout,
    );
    expect(deployment.spec.template.metadata.annotations[GENOME_ID_ANNOTATION]).toBe(id2);
    expect(deployment.metadata.annotations['deployment.kubernetes.io/revision']).toBe('2');
  });
});
