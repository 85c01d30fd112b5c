// What the operator's pod cache holds against what tenants write, with the real operator process
// (under its least-privilege ServiceAccount) on the real API server. Pods are made as the pod
// webhook makes them and held by a scheduling gate (no kubelet), as in operator-gate.test.ts.
// The memory figures are bench/caches.bench.ts's; the shape kept is operator/cached-pod.test.ts's.
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { genomeManifest } from '../core/manifest.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import {
  endOperatorTest,
  operatorCredentials,
  readGenome,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';
import {
  admittedWith,
  annotated,
  gated,
  genome,
  held,
  inNamespace,
  keyPair,
  mounts,
  naming,
  pod,
  signedBy,
  trustSecret,
  version,
} from './builders/index.ts';

const ROOT = join(import.meta.dirname, '..');
const GATE = 'genome.mathison.io/verified';
const LABEL = 'genome.mathison.io/genome';
const signer = keyPair('caches-key');
let ownNamespace: string;
let namespace: string;
let operator: RunningOperator;
let published: { configMap: string; id: string };
const core = () => kubeClient().makeApiClient(CoreV1Api);

/** A pod as the pod webhook admits it, held unscheduled, with a tenant's `annotations`. */
function gatedPod(name: string, annotations: Record<string, string> = {}) {
  return pod(
    name,
    inNamespace(namespace),
    naming('app'),
    admittedWith(published.id),
    annotated(annotations),
    held(),
    gated(),
    mounts(published.configMap),
  );
}

const gateOf = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === GATE);

async function gateBecomes(name: string, status: string, reason: string): Promise<V1Pod> {
  return eventually(
    `${name} gate ${status} ${reason}`,
    async () => {
      const pod = await core().readNamespacedPod({ namespace, name });
      const gate = gateOf(pod);
      return gate?.status === status && gate.reason === reason ? pod : undefined;
    },
    30_000,
  );
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('caches');
  const secret = trustSecret(ownNamespace, 'trusted-keys', { [signer.keyId]: signer.publicKey });
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(secret) });
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'caches-0' });
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(
      genomeManifest(genome(signedBy(signer), version('1.0.0')), 'app', namespace),
    ),
  });
  published = await eventually('Genome app to be published', async () => {
    const status = (await readGenome(namespace, 'app'))?.status;
    const ready = status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
    return ready && status?.configMapName && status.genomeId
      ? { configMap: status.configMapName, id: status.genomeId }
      : undefined;
  });
}, 180_000);

afterAll(() => endOperatorTest(operator, ownNamespace, [namespace]));

describe("the operator's pod cache, against what tenants write", () => {
  it('gates a labelled pod with 250 KiB of annotations as any other (its cached shape keeps what the gate reads)', async () => {
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify(gatedPod('padded', { 'tenant.example/pad': 'x'.repeat(250 * 1024) })),
    });
    await gateBecomes('padded', 'True', 'Verified');
  });

  it('closes the gate of a pod whose genome label is set to an empty value (it leaves the watch)', async () => {
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(gatedPod('emptied')) });
    await gateBecomes('emptied', 'True', 'Verified');
    await kubectl(['label', '--overwrite', 'pod', 'emptied', '-n', namespace, `${LABEL}=`]);
    const pod = await gateBecomes('emptied', 'False', 'GENOME_MISSING');
    expect(gateOf(pod)?.message).toMatch(/no longer names a Genome/);
  });
});
