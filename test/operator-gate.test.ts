// The readiness gate genome.mathison.io/verified, driven by the real operator process (under
// its least-privilege ServiceAccount) on the real API server. The pods are held by a scheduling
// gate: they exist and carry conditions, no kubelet ever runs them (so nothing computes Ready),
// and, unlike pods bound to a node that does not exist, the pod garbage collector leaves them. They are made the way the pod webhook makes them (label, gate, genome volume, id
// annotation); the webhook itself, on real pods, is test/node/genome-injection.test.ts.
import { join } from 'node:path';
import { CoreV1Api, type CoreV1Event, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenomeResource } from '../core/api.ts';
import type { Genome } from '../core/genome.ts';
import { genomeManifest } from '../core/manifest.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { operatorHealth } from '../cluster/operator-process.ts';
import {
  admittedWith,
  container,
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
import {
  operatorCredentials,
  readGenome,
  endOperatorTest,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';

const ROOT = join(import.meta.dirname, '..');
const GATE = 'genome.mathison.io/verified';
const alice = keyPair('alice-key');
const bob = keyPair('bob-key');
let ownNamespace: string;
let namespace: string;
let operator: RunningOperator;
const core = () => kubeClient().makeApiClient(CoreV1Api);

async function setTrust(signers: { keyId: string; publicKey: string }[]) {
  const keys = Object.fromEntries(signers.map((s) => [s.keyId, s.publicKey]));
  const secret = trustSecret(ownNamespace, 'trusted-keys', keys);
  const replaced = await kubectl(['replace', '-f', '-'], {
    input: JSON.stringify(secret),
    allowFailure: true,
  });
  if (replaced.code !== 0) await kubectl(['create', '-f', '-'], { input: JSON.stringify(secret) });
}

async function applyGenome(name: string, genome: Genome) {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeManifest(genome, name, namespace)),
  });
}

async function readyGenome(name: string, version: string): Promise<GenomeResource> {
  return eventually(`${name} ${version} to be Ready`, async () => {
    const genome = await readGenome(namespace, name);
    const ready = genome?.status?.conditions?.find((c) => c.type === 'Ready');
    const current =
      (genome?.spec.genome as Genome | undefined)?.version === version &&
      genome?.status?.observedGeneration === genome?.metadata.generation;
    return ready?.status === 'True' && current ? genome : undefined;
  });
}

/** A pod as the pod webhook admits it (without its readiness gate when `gate` is false), held unscheduled. */
function gatedPod(
  name: string,
  genomeName: string,
  {
    configMap,
    id,
    gate = true,
    extraContainers = [],
  }: {
    configMap: string;
    id: string;
    gate?: boolean;
    extraContainers?: { name: string; image: string }[];
  },
) {
  return pod(
    name,
    inNamespace(namespace),
    naming(genomeName),
    admittedWith(id),
    held(),
    ...(gate ? [gated()] : []),
    mounts(configMap),
    ...extraContainers.map((c) => container(c.name, c.image)),
  );
}

async function createPods(...pods: object[]) {
  await kubectl(['create', '-f', '-'], { input: pods.map((p) => JSON.stringify(p)).join('\n') });
}

const gateOf = (pod: V1Pod) => pod.status?.conditions?.find((c) => c.type === GATE);

/** The Events on pod `name` with `reason`, as `kubectl get events` lists them (waits for one). */
async function podEvents(name: string, reason: string, matching: RegExp) {
  return eventually(
    `a ${reason} Event on pod ${name} matching ${matching}`,
    async () => {
      const selector = `involvedObject.kind=Pod,involvedObject.name=${name},reason=${reason}`;
      const out = await kubectl([
        'get',
        'events',
        '-n',
        namespace,
        '--field-selector',
        selector,
        '-o',
        'json',
      ]);
      const items = (JSON.parse(out.stdout) as { items: CoreV1Event[] }).items;
      return items.some((e) => matching.test(e.message ?? '')) ? items : undefined;
    },
    30_000,
  );
}

/** `kubectl get gn <name>` (with `args`) once its row matches `row`: the header and the row. */
async function genomeRow(name: string, row: RegExp, args: string[] = []) {
  return eventually(`kubectl get gn ${name} to show ${row}`, async () => {
    const out = await kubectl(['get', 'gn', name, '-n', namespace, ...args]);
    const [header = '', line = ''] = out.stdout.trim().split('\n');
    return row.test(line) ? { header: header.split(/\s+/), line } : undefined;
  });
}

/** Waits until every named pod's gate has `status` (and `reason`, when given); returns the pods. */
async function gatesBecome(names: string[], status: string, reason?: string): Promise<V1Pod[]> {
  return eventually(
    `${names.join(', ')} gate ${status} ${reason ?? ''}`,
    async () => {
      const pods = await Promise.all(
        names.map((name) => core().readNamespacedPod({ namespace, name })),
      );
      const done = pods.every((p) => {
        const gate = gateOf(p);
        return gate?.status === status && (reason === undefined || gate.reason === reason);
      });
      return done ? pods : undefined;
    },
    30_000,
  );
}

let totkMap: string;
let totkId: string;

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('gated');
  await setTrust([alice, bob]);
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'gate-0' });
  await applyGenome('app', genome(signedBy(alice), version('1.0.0')));
  const app = await readyGenome('app', '1.0.0');
  totkMap = app.status?.configMapName ?? '';
  totkId = app.status?.genomeId ?? '';
}, 180_000);

afterAll(() => endOperatorTest(operator, ownNamespace, [namespace]));

describe('the readiness gate, driven by the operator', () => {
  it('is True on pods that mount the verified genome, and False, with the code, on pods that do not', async () => {
    await createPods(
      gatedPod('good-1', 'app', { configMap: totkMap, id: totkId }),
      gatedPod('good-2', 'app', { configMap: totkMap, id: totkId }),
      gatedPod('forged', 'app', { configMap: 'forged-map', id: totkId }),
      gatedPod('other-id', 'app', { configMap: totkMap, id: 'f'.repeat(64) }),
      gatedPod('ungated', 'app', { configMap: totkMap, id: totkId, gate: false }),
    );
    const [good] = await gatesBecome(['good-1', 'good-2'], 'True', 'Verified');
    expect(gateOf(good!)?.message).toBe(`genome ${totkId.slice(0, 12)} verified by alice-key`);
    await gatesBecome(['forged'], 'False', 'GENOME_NOT_VERIFIED');
    await gatesBecome(['other-id'], 'False', 'GENOME_ID_MISMATCH');
    const ungated = await core().readNamespacedPod({ namespace, name: 'ungated' });
    expect(gateOf(ungated)).toBeUndefined();
  });

  it('a ConfigMap that copies the published one (labels and content) opens no gate, and is not deleted', async () => {
    const real = await core().readNamespacedConfigMap({ namespace, name: totkMap });
    await kubectl(['create', '-f', '-'], {
      input: JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'app-copy', namespace, labels: real.metadata?.labels },
        immutable: true,
        data: real.data,
      }),
    });
    await createPods(gatedPod('copy', 'app', { configMap: 'app-copy', id: totkId }));
    await gatesBecome(['copy'], 'False', 'GENOME_NOT_VERIFIED');
    const still = await core().readNamespacedConfigMap({ namespace, name: 'app-copy' });
    expect(still.metadata?.uid).toBeDefined();
  });

  it('stays False, POD_INJECTION_INCOMPLETE, on a pod with a container that does not mount the genome', async () => {
    await createPods(
      gatedPod('decoy', 'app', {
        configMap: totkMap,
        id: totkId,
        extraContainers: [{ name: 'decoy', image: 'genome.local/none:0' }],
      }),
    );
    const [pod] = await gatesBecome(['decoy'], 'False', 'POD_INJECTION_INCOMPLETE');
    expect(gateOf(pod!)?.message).toMatch(/container decoy does not mount the genome/);
  });

  it('writes only its own condition, through pods/status, never Ready', async () => {
    const pod = await core().readNamespacedPod({ namespace, name: 'good-1' });
    // No kubelet runs this pod: a Ready condition could only come from the operator.
    const types = pod.status?.conditions?.map((c) => c.type);
    expect(types).toContain(GATE);
    expect(types).not.toContain('Ready');
    const mine = pod.metadata?.managedFields?.filter((f) => f.manager === 'genome-operator');
    expect(mine?.map((f) => f.subresource)).toEqual(['status']);
    const fields = JSON.stringify(mine?.[0]?.fieldsV1);
    expect(fields).toContain(`k:{\\"type\\":\\"${GATE}\\"}`);
    expect(fields).not.toContain('Ready');
  });

  it('a write meant for an earlier pod of the same name fails: the uid in the patch guards it', async () => {
    // What kube/operator-client.ts patchPodGate sends, with another pod's uid.
    const patch = {
      metadata: { uid: '00000000-0000-0000-0000-000000000000' },
      status: { conditions: [] },
    };
    const out = await kubectl(
      [
        'patch',
        'pod',
        'good-1',
        '-n',
        namespace,
        '--subresource=status',
        '--type=strategic',
        '-p',
        JSON.stringify(patch),
      ],
      { allowFailure: true },
    );
    expect(out.code).not.toBe(0);
    // What kube/errors.ts isUidMismatch recognises (422 on metadata.uid), so the operator takes
    // it for a replaced pod rather than a failure to retry.
    expect(out.stderr).toMatch(/metadata\.uid/);
    expect(out.stderr).toMatch(/Invalid|invalid/);
  });

  it('turns False when the key is revoked, keeps the pods, and turns True again when it returns', async () => {
    const before = await core().readNamespacedPod({ namespace, name: 'good-1' });
    await setTrust([bob]);
    const revoked = await gatesBecome(['good-1', 'good-2'], 'False', 'GENOME_UNTRUSTED_SIGNER');
    expect(gateOf(revoked[0]!)?.message).toMatch(/alice-key/);
    expect(revoked[0]?.metadata?.uid).toBe(before.metadata?.uid);
    // kubectl get gn says why, and -o wide what to do.
    const { header } = await genomeRow('app', /\sFalse\s+GENOME_UNTRUSTED_SIGNER\s/);
    expect(header).toEqual(['NAME', 'GENOME', 'VERSION', 'VERIFIED', 'REASON', 'ID', 'AGE']);
    const wide = await genomeRow('app', /GENOME_UNTRUSTED_SIGNER.*alice-key/, ['-o', 'wide']);
    expect(wide.header.at(-1)).toBe('MESSAGE');
    // Each pod whose gate closed has a Warning Event that says why, with the code.
    for (const name of ['good-1', 'good-2']) {
      const [closed] = await podEvents(name, 'GateClosed', /GENOME_UNTRUSTED_SIGNER/);
      expect(closed).toMatchObject({ type: 'Warning', involvedObject: { kind: 'Pod', name } });
      expect(closed?.involvedObject.uid).toBe(
        revoked.find((p) => p.metadata?.name === name)?.metadata?.uid,
      );
    }
    const listed = await kubectl(['get', 'events', '-n', namespace]);
    expect(listed.stdout).toMatch(/Warning\s+GateClosed\s+pod\/good-1\s.*GENOME_UNTRUSTED_SIGNER/);
    await setTrust([alice, bob]);
    const restored = await gatesBecome(['good-1', 'good-2'], 'True', 'Verified');
    const [opened] = await podEvents('good-1', 'GateOpened', /verified by alice-key/);
    expect(opened?.type).toBe('Normal');
    const flippedAt = Date.parse(String(gateOf(restored[0]!)?.lastTransitionTime));
    expect(flippedAt).toBeGreaterThanOrEqual(
      Date.parse(String(gateOf(revoked[0]!)?.lastTransitionTime)),
    );
  });

  it('turns False when the id annotation is changed after admission', async () => {
    await kubectl([
      'annotate',
      'pod',
      'good-2',
      '-n',
      namespace,
      '--overwrite',
      `genome.mathison.io/id=${'e'.repeat(64)}`,
    ]);
    await gatesBecome(['good-2'], 'False', 'GENOME_ID_MISMATCH');
  });

  it('during a rollout keeps pods of the older genome True while it verifies, and closes both when the key goes', async () => {
    await applyGenome('app', genome(signedBy(alice), version('1.1.0')));
    const next = await readyGenome('app', '1.1.0');
    const nextMap = next.status?.configMapName ?? '';
    expect(nextMap).not.toBe(totkMap);
    await createPods(
      gatedPod('new-1', 'app', { configMap: nextMap, id: next.status?.genomeId ?? '' }),
    );
    await gatesBecome(['new-1'], 'True', 'Verified');
    // good-1 still mounts the older ConfigMap, which the operator keeps while it is mounted.
    await gatesBecome(['good-1'], 'True', 'Verified');
    await setTrust([bob]);
    await gatesBecome(['good-1', 'new-1'], 'False', 'GENOME_UNTRUSTED_SIGNER');
    await setTrust([alice, bob]);
    await gatesBecome(['good-1', 'new-1'], 'True', 'Verified');
  });

  it('closes the gate of a pod whose genome label is removed (it leaves the operator’s watch)', async () => {
    const genome = await readGenome(namespace, 'app');
    const { configMapName = '', genomeId = '' } = genome?.status ?? {};
    await createPods(gatedPod('leaver', 'app', { configMap: configMapName, id: genomeId }));
    await gatesBecome(['leaver'], 'True', 'Verified');
    await kubectl(['label', 'pod', 'leaver', '-n', namespace, 'genome.mathison.io/genome-']);
    const [pod] = await gatesBecome(['leaver'], 'False', 'GENOME_MISSING');
    expect(gateOf(pod!)?.message).toMatch(/label genome\.mathison\.io\/genome was removed/);
  });

  it('turns False with GENOME_MISSING when the Genome is deleted', async () => {
    await kubectl(['delete', 'genome', 'app', '-n', namespace]);
    const pods = await gatesBecome(['good-1', 'new-1'], 'False', 'GENOME_MISSING');
    expect(gateOf(pods[0]!)?.message).toMatch(/Genome .*\/app does not exist/);
  });
});

describe('the readiness gate while the trusted keys are stale', () => {
  const role = () => ['role', 'genome-operator', '-n', ownNamespace];
  const metric = async () => {
    const { text } = await operatorHealth(operator.port, '/metrics');
    return /^genome_trusted_keys_stale (\d+)$/m.exec(text)?.[1];
  };

  it('opens no new gate and publishes no verdict while the key watch is down, and resumes when it is back', async () => {
    await applyGenome('stale', genome(signedBy(alice), version('1.0.0')));
    const app = await readyGenome('stale', '1.0.0');
    const configMap = app.status?.configMapName ?? '';
    const id = app.status?.genomeId ?? '';
    // The operator may no longer read Secrets (its leases it keeps: it stays the leader).
    const rules = [
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'create', 'update'],
      },
    ];
    await kubectl(['patch', ...role(), '--type=merge', '-p', JSON.stringify({ rules })]);
    try {
      await eventually(
        'the keys to count as stale',
        async () => ((await metric()) === '1' ? true : undefined),
        60_000,
      );
      await createPods(gatedPod('while-stale', 'stale', { configMap, id }));
      await gatesBecome(['while-stale'], 'False', 'TRUST_KEYS_STALE');
      await applyGenome('late', genome(signedBy(alice), version('1.0.0')));
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect((await readGenome(namespace, 'late'))?.status).toBeUndefined();
    } finally {
      await operatorCredentials(ownNamespace); // the Role as it was
    }
    await eventually(
      'the keys to be current',
      async () => ((await metric()) === '0' ? true : undefined),
      60_000,
    );
    await readyGenome('late', '1.0.0');
    await gatesBecome(['while-stale'], 'True');
  }, 180_000);
});
