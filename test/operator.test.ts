import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorHealth } from '../cluster/operator-process.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { Genome } from '../core/genome.ts';
import { genome, keyPair, signedBy, trustSecret } from './builders/index.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';
import {
  eventually,
  installGenomeCrd,
  kubeClient,
  kubectl,
  uniqueNamespace,
} from './support/cluster.ts';
import { mathisonLoad } from './support/mathison-rule.ts';
import {
  conditionOf,
  operatorCredentials,
  readGenome,
  endOperatorTest,
  startOperator,
  type RunningOperator,
} from './support/operator.ts';

const ROOT = join(import.meta.dirname, '..');
const TOTK_DIR = join(ROOT, 'genomes', 'TOTK_ROOT_v1.0.0');
const totk = (): Genome => JSON.parse(readFileSync(join(TOTK_DIR, 'genome.json'), 'utf8'));
const totkKey = JSON.parse(
  readFileSync(join(TOTK_DIR, 'TEST-ONLY-totk-key-001.trust.json'), 'utf8'),
)[0];

const alice = keyPair('alice-key');
const mallory = keyPair('mallory-key');
let ownNamespace: string;
let namespace: string;
let operator: RunningOperator;
let kubeconfig: string;
const core = () => kubeClient().makeApiClient(CoreV1Api);

const keys = (withAlice: boolean) => ({
  [totkKey.key_id]: totkKey.public_key,
  ...(withAlice && { [alice.keyId]: alice.publicKey }),
});

async function setTrust(withAlice: boolean) {
  // replace, not apply: a key removed from the Secret must be gone from it.
  const secret = trustSecret(ownNamespace, 'trusted-keys', keys(withAlice), [totkKey.key_id]);
  await kubectl(['replace', '--force=false', '-f', '-'], {
    input: JSON.stringify(secret),
    allowFailure: true,
  }).then((r) =>
    r.code === 0 ? r : kubectl(['create', '-f', '-'], { input: JSON.stringify(secret) }),
  );
}

async function applyGenome(name: string, genome: Genome) {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeManifest(genome, name, namespace)),
  });
}

async function ownedConfigMaps(uid: string | undefined): Promise<V1ConfigMap[]> {
  const list = await core().listNamespacedConfigMap({
    namespace,
    labelSelector: `genome.mathison.io/genome-uid=${uid}`,
  });
  return list.items;
}

async function readyGenome(name: string) {
  return eventually(`${name} to be Ready`, async () => {
    const genome = await readGenome(namespace, name);
    const ready = genome?.status?.conditions?.find((c) => c.type === 'Ready');
    return ready?.status === 'True' &&
      genome?.status?.observedGeneration === genome?.metadata.generation
      ? genome
      : undefined;
  });
}

beforeAll(async () => {
  ownNamespace = await uniqueNamespace('genome-system');
  namespace = await uniqueNamespace('genomes');
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  await setTrust(true);
  kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'operator-0' });
}, 120_000);

afterAll(() => endOperatorTest(operator, ownNamespace, [namespace]));

describe('the operator, as its own process under its least-privilege ServiceAccount', () => {
  it('verifies TOTK: Ready, the CLI genome id, an immutable owned ConfigMap that Mathison loads with the same id', async () => {
    await applyGenome('totk', totk());
    const genome = await readyGenome('totk');
    const cli = execFileSync(
      join(ROOT, 'node_modules', '.bin', 'tsx'),
      [
        'scripts/genome-verify.ts',
        join(TOTK_DIR, 'genome.json'),
        '--trust',
        join(TOTK_DIR, 'TEST-ONLY-totk-key-001.trust.json'),
      ],
      { cwd: ROOT, env: environmentWithoutProxies(), encoding: 'utf8' },
    );
    const cliId = /genome id:\s+([0-9a-f]{64})/.exec(cli)?.[1];
    expect(genome.status?.genomeId).toBe(cliId);
    expect(genome.status?.shortId).toBe(cliId?.slice(0, 12));
    expect(genome.status?.verifiedSigners).toEqual([totkKey.key_id]);
    const [cm, ...others] = await ownedConfigMaps(genome.metadata.uid);
    expect(others).toEqual([]);
    expect(cm?.metadata?.name).toBe(genome.status?.configMapName);
    expect(cm?.immutable).toBe(true);
    expect(cm?.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'Genome',
      uid: genome.metadata.uid,
      controller: true,
    });
    expect(mathisonLoad(cm?.data?.['genome.json'] ?? '')).toBe(cliId);
    expect(JSON.parse(cm?.data?.['trusted-keys.json'] ?? '[]')).toEqual([
      { key_id: totkKey.key_id, alg: 'ed25519', public_key: totkKey.public_key, test: true },
    ]);
  });

  it('kubectl wait --for=condition=Ready works, and kubectl get gn shows Verified, its reason and the short id', async () => {
    const genome = await readyGenome('totk');
    await kubectl(['wait', '--for=condition=Ready', 'gn/totk', '-n', namespace, '--timeout=10s']);
    const table = await kubectl(['get', 'gn', 'totk', '-n', namespace]);
    expect(table.stdout).toMatch(/VERIFIED\s+REASON\s+ID/);
    expect(table.stdout).toMatch(new RegExp(`True\\s+Verified\\s+${genome.status?.shortId}`));
  });

  it('records a Verified Event on the Genome', async () => {
    const events = await core().listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=totk',
    });
    expect(events.items.map((e) => e.reason)).toContain('Verified');
  });

  it('a Genome created without the webhook, signed by an untrusted key, is refused: Verified=False and no ConfigMap', async () => {
    await applyGenome('forged', genome(signedBy(mallory)));
    const verified = await eventually('forged to be refused', async () => {
      const c = await conditionOf(namespace, 'forged', 'Verified');
      return c?.status === 'False' ? c : undefined;
    });
    expect(verified.reason).toBe('GENOME_UNTRUSTED_SIGNER');
    expect(await conditionOf(namespace, 'forged', 'Ready')).toMatchObject({ status: 'False' });
    const stored = await readGenome(namespace, 'forged');
    expect(await ownedConfigMaps(stored!.metadata.uid)).toEqual([]);
    expect(stored?.status?.configMapName).toBeUndefined();
  });

  /** The operator's genome_texts_held gauge. */
  const textsHeld = async () => {
    const { text } = await operatorHealth(operator.port, '/metrics');
    return Number(/^genome_texts_held (\d+)$/m.exec(text)?.[1]);
  };

  it('removing the signing key turns Verified False with the reason, and putting it back turns it True', async () => {
    await applyGenome('alice', genome(signedBy(alice)));
    const before = await readyGenome('alice');
    // Converged Genomes hold no genome text: the revocation reads each Genome back.
    await eventually('every genome text to be let go', async () =>
      (await textsHeld()) === 0 ? true : undefined,
    );
    try {
      await setTrust(false);
      // From when the API server has stored the removal (kubectl's own start-up is not the
      // operator's). A figure, printed: speed is the benchmark's to judge, not a timed test's.
      const revoked = Date.now();
      const condition = await eventually('alice to be revoked', async () => {
        const c = await conditionOf(namespace, 'alice', 'Verified');
        return c?.status === 'False' ? c : undefined;
      });
      console.log(`[operator] key removed → Verified=False in ${Date.now() - revoked} ms`);
      expect(condition.reason).toBe('GENOME_UNTRUSTED_SIGNER');
      // Removed after the status (the clean-up's own reconcile follows it).
      await eventually('its ConfigMap to be removed', async () =>
        (await ownedConfigMaps(before.metadata.uid)).length === 0 ? true : undefined,
      );
      const events = await core().listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=alice',
      });
      expect(events.items.map((e) => e.reason)).toContain('Revoked');
    } finally {
      // The tests after this one need alice's key back, whatever happened here.
      await setTrust(true);
    }
    const after = await readyGenome('alice');
    expect(after.status?.genomeId).toBe(before.status?.genomeId);
    await eventually('the texts read back to be let go again', async () =>
      (await textsHeld()) === 0 ? true : undefined,
    );
    expect((await ownedConfigMaps(before.metadata.uid)).map((c) => c.metadata?.name)).toEqual([
      before.status?.configMapName,
    ]);
  });

  it('a published ConfigMap that is deleted, or whose labels are edited, comes back', async () => {
    const genome = await readyGenome('totk');
    const name = genome.status!.configMapName!;
    const original = await core().readNamespacedConfigMap({ namespace, name });
    await core().deleteNamespacedConfigMap({ namespace, name });
    const back = await eventually('the ConfigMap to come back', async () => {
      const cms = await ownedConfigMaps(genome.metadata.uid);
      return cms.find((c) => c.metadata?.uid !== original.metadata?.uid);
    });
    expect(back.metadata?.name).toBe(name);
    expect(back.data).toEqual(original.data);
    expect(back.immutable).toBe(true);
    await kubectl([
      'label',
      'configmap',
      name,
      '-n',
      namespace,
      'genome.mathison.io/genome-uid-',
      'app.kubernetes.io/managed-by-',
    ]);
    await eventually('the labels to come back', async () => {
      const cm = await core().readNamespacedConfigMap({ namespace, name });
      return cm.metadata?.labels?.['genome.mathison.io/genome-uid'] === genome.metadata.uid
        ? true
        : undefined;
    });
    const events = await core().listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=totk',
    });
    expect(events.items.map((e) => e.reason)).toContain('Republished');
  });

  it('a ConfigMap recreated by hand with other content is replaced by the published one', async () => {
    const genome = await readyGenome('totk');
    const name = genome.status!.configMapName!;
    const original = await core().readNamespacedConfigMap({ namespace, name });
    await core().deleteNamespacedConfigMap({ namespace, name });
    await core()
      .createNamespacedConfigMap({
        namespace,
        body: { metadata: { name }, data: { 'genome.json': '{"tampered":true}' } },
      })
      .catch(() => undefined);
    await eventually('the published content to be back', async () => {
      const cm = await core()
        .readNamespacedConfigMap({ namespace, name })
        .catch(() => undefined);
      return cm?.immutable === true && cm.data?.['genome.json'] === original.data?.['genome.json']
        ? true
        : undefined;
    });
  });

  it('deleting the Genome garbage-collects its ConfigMaps', async () => {
    const genome = await readyGenome('totk');
    expect(await ownedConfigMaps(genome.metadata.uid)).toHaveLength(1);
    await kubectl(['delete', 'gn', 'totk', '-n', namespace]);
    // The controller manager's garbage collector does this; under load it takes a while.
    await eventually(
      'the ConfigMaps to be collected',
      async () => ((await ownedConfigMaps(genome.metadata.uid)).length === 0 ? true : undefined),
      60_000,
    );
  });

  it('exports verification results by code, reconcile durations and the trusted key count', async () => {
    const { status, text } = await operatorHealth(operator.port, '/metrics');
    expect(status).toBe(200);
    expect(text).toMatch(/genome_verifications_total\{result="Verified"\} [1-9]/);
    expect(text).toMatch(/genome_verifications_total\{result="GENOME_UNTRUSTED_SIGNER"\} [1-9]/);
    expect(text).toMatch(
      /genome_reconcile_duration_seconds_count\{controller="genome",outcome="success"\} [1-9]/,
    );
    expect(text).toMatch(/genome_trusted_keys 2/);
    expect(text).toMatch(/genome_operator_leader 1/);
    // The state of each Genome, as the operator decided it: the refused one is Verified False.
    const forged = `namespace="${namespace}",name="forged"`;
    expect(text).toContain(`genome_condition{${forged},condition="Verified",status="False"} 1`);
    expect(text).toContain(`genome_condition{${forged},condition="Verified",status="True"} 0`);
    expect(text).toContain(`genome_condition{${forged},condition="Ready",status="False"} 1`);
    expect(text).toMatch(
      /^genome_operator_build_info\{version="[^"]+",node_version="v24\.[^"]+"\} 1$/m,
    );
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    // totk was deleted by the test before: its series went with it.
    await eventually('the deleted Genome to leave genome_condition', async () => {
      const now = await operatorHealth(operator.port, '/metrics');
      return now.text.includes(`namespace="${namespace}",name="totk"`) ? undefined : true;
    });
  });

  it('ignores and reports a trust Secret entry that holds a private key: Event, metric, no key material in its log', async () => {
    const leaked = keyPair('leaked-key');
    const material = leaked.privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const secret = trustSecret(ownNamespace, 'leaky-keys', { [leaked.keyId]: material });
    await kubectl(['create', '-f', '-'], { input: JSON.stringify(secret) });
    const refused = /genome_trusted_keys_refused\{private_key="true"\} (\d+)/;
    await eventually('the refusal to be counted', async () => {
      const { text } = await operatorHealth(operator.port, '/metrics');
      return refused.exec(text)?.[1] === '1' ? true : undefined;
    });
    const { text } = await operatorHealth(operator.port, '/metrics');
    expect(text).toMatch(/genome_trusted_keys 2/); // the leaked entry is never a key
    const events = await eventually('an Event on the Secret', async () => {
      const list = await core().listNamespacedEvent({
        namespace: ownNamespace,
        fieldSelector: 'involvedObject.name=leaky-keys',
      });
      return list.items.length > 0 ? list.items : undefined;
    });
    expect(events[0]?.reason).toBe('PrivateKeyInTrustStore');
    expect(events[0]?.type).toBe('Warning');
    expect(JSON.stringify(events)).not.toContain(material);
    expect(operator.output()).toMatch(/PRIVATE_KEY_EXPOSED/);
    expect(operator.output()).not.toContain(material);
    await kubectl(['delete', 'secret', 'leaky-keys', '-n', ownNamespace]);
    await eventually('the refusal count to return to 0', async () => {
      const now = await operatorHealth(operator.port, '/metrics');
      return refused.exec(now.text)?.[1] === '0' ? true : undefined;
    });
  });

  it('in production mode, a genome verified only by a test key is refused with its own code; others stay verified', async () => {
    await operator.stop();
    operator = await startOperator({
      namespace: ownNamespace,
      kubeconfig,
      identity: 'operator-prod',
      args: ['--production=true'],
    });
    await applyGenome('totk-prod', totk());
    const refused = await eventually('totk-prod to be refused', async () => {
      const c = await conditionOf(namespace, 'totk-prod', 'Verified');
      return c?.status === 'False' ? c : undefined;
    });
    expect(refused.reason).toBe('GENOME_TEST_KEY_IN_PRODUCTION');
    expect(refused.message).toMatch(/TEST-ONLY-totk-key-001/);
    const genome = await readGenome(namespace, 'totk-prod');
    expect(await ownedConfigMaps(genome?.metadata.uid)).toEqual([]);
    // alice's key is not a test key: her genome is still Ready under production mode.
    await readyGenome('alice');
  });
});
