// Automatic rollouts against the real API server and controller manager: the real operator
// (under its least-privilege ServiceAccount) and the real pod webhook (which injects the
// Genome's current id into every labelled pod). No node: the Deployment and StatefulSet
// controllers create ReplicaSets, ControllerRevisions and pods, which stay Pending.
import { AppsV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorHealth } from '../cluster/operator-process.ts';
import { pickFreePorts } from '../cluster/ports.ts';
import { genomeId } from '../core/canonical.ts';
import type { Genome } from '../core/genome.ts';
import { genomeManifest } from '../core/manifest.ts';
import { podWebhookConfiguration } from '../core/webhook-config.ts';
import { workloadWrites } from '../kube/workload-writes.ts';
import { stampPatch } from '../operator/rollout.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import {
  operatorCredentials,
  readGenome,
  removeOperatorCredentials,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';
import { podWebhookAnswers, startWebhook, type RunningWebhook } from './support/webhook.ts';
import {
  container,
  deployment,
  genome,
  labelled,
  named,
  naming,
  optedInto,
  pod,
  podsNaming,
  replicas,
  signedBy,
  statefulSet,
  totkKeyPair,
  trustSecret,
  version,
} from './builders/index.ts';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const LABEL = 'genome.mathison.io/genome';
const ID = 'genome.mathison.io/id';
const REVISION = 'deployment.kubernetes.io/revision';
const signer = totkKeyPair();
/** A genome signed with the repository's TEST key, at `version`. */
const signed = (v: string): Genome => genome(signedBy(signer), named('ROLLOUT_TEST'), version(v));
const [v1, v2, v3] = ['1.0.0', '1.0.1', '1.0.2'].map(signed) as [Genome, Genome, Genome];
const [id1, id2, id3] = [genomeId(v1), genomeId(v2), genomeId(v3)];

let ownNamespace: string;
let ns: string;
let webhookConfig: string;
let operator: RunningOperator | undefined;
let webhook: RunningWebhook | undefined;
const apps = () => kubeClient().makeApiClient(AppsV1Api);
const core = () => kubeClient().makeApiClient(CoreV1Api);

async function applyJson(object: unknown): Promise<void> {
  await kubectl(['apply', '-n', ns, '-f', '-'], { input: JSON.stringify(object) });
}

async function applyGenome(name: string, genome: Genome, rollout?: string): Promise<void> {
  const manifest = genomeManifest(genome, name, ns) as { spec: Record<string, unknown> };
  if (rollout !== undefined) manifest.spec.rollout = rollout;
  await applyJson(manifest);
}

/** Waits until the Genome's status publishes `id` for its current generation. */
async function published(name: string, id: string): Promise<void> {
  await eventually(`${name} to publish ${id.slice(0, 12)}`, async () => {
    const g = await readGenome(ns, name);
    const ready = g?.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' &&
      g?.status?.observedGeneration === g?.metadata.generation &&
      g?.status?.genomeId === id
      ? true
      : undefined;
  });
}

const readDeployment = (name: string) => apps().readNamespacedDeployment({ namespace: ns, name });
const readStatefulSet = (name: string) => apps().readNamespacedStatefulSet({ namespace: ns, name });
const stampOf = (w: { spec?: { template?: { metadata?: { annotations?: object } } } }) =>
  (w.spec?.template?.metadata?.annotations as Record<string, string> | undefined)?.[ID];

async function podsOf(run: string): Promise<V1Pod[]> {
  return (await core().listNamespacedPod({ namespace: ns, labelSelector: `run=${run}` })).items;
}

/** Waits until the workload's pods exist and every live one carries `id`, returning them. */
async function podsOn(run: string, id: string, count: number): Promise<V1Pod[]> {
  return eventually(
    `${count} pod(s) of ${run} on ${id.slice(0, 12)}`,
    async () => {
      const pods = (await podsOf(run)).filter((p) => p.metadata?.deletionTimestamp === undefined);
      const on = pods.filter((p) => p.metadata?.annotations?.[ID] === id);
      return on.length >= count ? on : undefined;
    },
    60_000,
  );
}

async function genomeEvents(name: string, reason: string): Promise<string[]> {
  const events = await core().listNamespacedEvent({
    namespace: ns,
    fieldSelector: `involvedObject.name=${name},reason=${reason}`,
  });
  return events.items.map((e) => e.message ?? '');
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  ns = await uniqueNamespace('rollouts');
  webhookConfig = `genome-pods-${ns}`;
  const secret = trustSecret(ownNamespace, 'trusted-keys', { [signer.keyId]: signer.publicKey }, [
    signer.keyId,
  ]);
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(secret) });
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'rollouts' });
  await applyGenome('app', v1);
  await applyGenome('other', v1);
  await published('app', id1);
  await published('other', id1);
  // The pod webhook, for this test's namespace only (other test files create labelled pods).
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
    env: { WEBHOOK_MUTATING_CONFIGURATIONS: webhookConfig },
  });
  const probe = pod(
    'probe',
    labelled({ run: 'x' }),
    naming('app'),
    container('app', 'genome.local/none:v1'),
  );
  await podWebhookAnswers(ns, probe, id1);
}, 180_000);

afterAll(async () => {
  await kubectl(['delete', 'mutatingwebhookconfiguration', webhookConfig, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
  await operator?.stop();
  await kubectl(['delete', 'namespace', ns, ownNamespace, '--wait=false'], { allowFailure: true });
  await removeOperatorCredentials(ownNamespace);
  if (operator && process.env.DEBUG_OPERATOR) process.stderr.write(operator.output());
});

describe('rollouts, by the real operator under its ServiceAccount, with the real pod webhook', () => {
  let dbRevision: string | undefined;

  it('spec.rollout defaults to Automatic and kubectl explain documents it', async () => {
    expect((await readGenome(ns, 'other'))?.spec.rollout).toBe('Automatic');
    const explain = await kubectl(['explain', 'gn.spec.rollout']);
    expect(explain.stdout).toMatch(/Automatic/);
    expect(explain.stdout).toMatch(/Manual/);
  });

  it('new workloads whose pods the webhook admitted with the current id are not rolled', async () => {
    await applyJson(deployment('web', replicas(2), podsNaming('app'), optedInto('app')));
    await applyJson(statefulSet('db', podsNaming('app'), optedInto('app')));
    await applyJson(deployment('theirs', podsNaming('other'), optedInto('other')));
    await applyJson(deployment('plain'));
    // Its pods name the Genome, but the Deployment does not opt in (no label of its own).
    await applyJson(deployment('unasked', podsNaming('app')));
    await podsOn('web', id1, 2);
    await podsOn('unasked', id1, 1);
    await podsOn('db', id1, 1);
    await podsOn('theirs', id1, 1);
    const web = await readDeployment('web');
    expect(stampOf(web)).toBeUndefined();
    expect(web.metadata?.annotations?.[REVISION]).toBe('1');
    dbRevision = await eventually('db to have a revision', async () => {
      const db = await readStatefulSet('db');
      return db.status?.updateRevision || undefined;
    });
    // That no rollout happened here is also checked below: the update makes revision 2, not 3.
  });

  it('a new verified version rolls them: the templates carry the new id, a new ReplicaSet rolls out, its pods get the new id', async () => {
    await applyGenome('app', v2);
    await published('app', id2);
    const web = await eventually('web to be stamped with the new id', async () => {
      const d = await readDeployment('web');
      return stampOf(d) === id2 && d.metadata?.annotations?.[REVISION] === '2' ? d : undefined;
    });
    expect(web.metadata?.annotations?.[REVISION]).toBe('2');
    const replicaSets = await eventually('a ReplicaSet of the new template', async () => {
      const list = await apps().listNamespacedReplicaSet({
        namespace: ns,
        labelSelector: 'run=web',
      });
      return list.items.some((rs) => stampOf(rs) === id2) ? list.items : undefined;
    });
    expect(replicaSets).toHaveLength(2);
    // The rollout's new pods: admitted by the webhook with the new genome.
    await podsOn('web', id2, 1);
    const db = await eventually('db to be stamped and get a new revision', async () => {
      const s = await readStatefulSet('db');
      return stampOf(s) === id2 && s.status?.updateRevision !== dbRevision ? s : undefined;
    });
    expect(db.status?.updateRevision).not.toBe(dbRevision);
    const events = await eventually('RolledOut Events on the Genome', async () => {
      const messages = await genomeEvents('app', 'RolledOut');
      return messages.length >= 2 ? messages : undefined;
    });
    expect(events).toEqual(
      expect.arrayContaining([
        `rolled Deployment web to genome ${id2.slice(0, 12)} (was ${id1.slice(0, 12)})`,
        `rolled StatefulSet db to genome ${id2.slice(0, 12)} (was ${id1.slice(0, 12)})`,
      ]),
    );
    expect((await genomeEvents('web', 'RolledOut'))[0]).toMatch(/of Genome app: rolling update/);
    const metrics = await operatorHealth(operator!.port, '/metrics');
    expect(metrics.text).toMatch(/genome_rollouts_total\{kind="Deployment"\} 1\b/);
    expect(metrics.text).toMatch(/genome_rollouts_total\{kind="StatefulSet"\} 1\b/);
  });

  it("another Genome's Deployment, an unlabelled one, and one whose pods name the Genome but that does not opt in are untouched", async () => {
    for (const name of ['theirs', 'plain', 'unasked']) {
      const d = await readDeployment(name);
      expect(stampOf(d), name).toBeUndefined();
      expect(d.metadata?.annotations?.[REVISION], name).toBe('1');
    }
  });

  it('under spec.rollout Manual nothing is stamped (an Event says what waits); back to Automatic, they roll', async () => {
    await applyGenome('app', v3, 'Manual');
    await published('app', id3);
    const pending = await eventually('a RolloutPending Event', async () => {
      const messages = await genomeEvents('app', 'RolloutPending');
      return messages.find((m) => m.includes(id3.slice(0, 12)));
    });
    expect(pending).toBe(
      `spec.rollout is Manual: Deployment web, StatefulSet db still run an older genome than ${id3.slice(0, 12)}; kubectl rollout restart rolls them`,
    );
    const web = await readDeployment('web');
    expect(stampOf(web)).toBe(id2);
    expect(web.metadata?.annotations?.[REVISION]).toBe('2');
    expect(stampOf(await readStatefulSet('db'))).toBe(id2);
    await applyGenome('app', v3, 'Automatic');
    await eventually('web and db to be stamped with the newest id', async () => {
      const [d, s] = [await readDeployment('web'), await readStatefulSet('db')];
      return stampOf(d) === id3 && stampOf(s) === id3 && d.metadata?.annotations?.[REVISION] === '3'
        ? true
        : undefined;
    });
  });

  it('a Deployment that opts in later (its own label added) is rolled then', async () => {
    expect(stampOf(await readDeployment('unasked'))).toBeUndefined();
    await kubectl(['label', '-n', ns, 'deployment', 'unasked', `${LABEL}=app`]);
    await eventually('unasked to be stamped with the newest id', async () => {
      const d = await readDeployment('unasked');
      return stampOf(d) === id3 && d.metadata?.annotations?.[REVISION] === '2' ? true : undefined;
    });
  });

  it('the stamp patch is refused (422) for a namesake with another uid, and a workload that is gone is done', async () => {
    await applyJson(deployment('namesake', replicas(0)));
    const { metadata } = await readDeployment('namesake');
    const writes = workloadWrites(kubeClient());
    const ref = { kind: 'Deployment', namespace: ns, name: 'namesake' };
    const refused = await writes
      .patchTemplate({ ...ref, uid: 'not-its-uid' }, stampPatch(id1))
      .then(
        () => undefined,
        (err: { code?: number; body?: unknown }) => err,
      );
    // The API server refuses to change metadata.uid (422 Invalid): nothing is written.
    expect(refused?.code, String(refused?.body)).toBe(422);
    expect(stampOf(await readDeployment('namesake'))).toBeUndefined();
    await writes.patchTemplate({ ...ref, uid: metadata?.uid }, stampPatch(id1));
    expect(stampOf(await readDeployment('namesake'))).toBe(id1);
    await writes.patchTemplate({ ...ref, name: 'never-was', uid: 'x' }, stampPatch(id1));
  });
});
