// GenomeTrustPolicies, judged by the real operator (its own process, under its least-privilege
// ServiceAccount) on the real API server: which keys count for which namespaces, at what
// quorum, until when, in which mode. Policies are cluster-scoped and the API server is shared
// by the test files, so every policy here selects only this run's namespaces (label
// genome-test/run). The `default` policy (installGenomeCrd) matches everything: every matching
// Enforce policy must hold, so the stricter ones here decide.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorHealth } from '../cluster/operator-process.ts';
import {
  NOT_AFTER_ANNOTATION,
  NOT_BEFORE_ANNOTATION,
  TRUSTED_KEYS_LABEL,
  type GenomeResource,
} from '../core/api.ts';
import { environmentWithoutProxies } from '../cluster/processes.ts';
import type { Genome } from '../core/genome.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { TrustPolicySpec } from '../core/trust-policy.ts';
import {
  admittedWith,
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
  type TestKeyPair,
} from './builders/index.ts';
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

const ROOT = join(import.meta.dirname, '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const RUN = randomBytes(4).toString('hex');
const RUN_LABEL = 'genome-test/run';
const GATE = 'genome.mathison.io/verified';

const dev = keyPair('dev-1');
const prod1 = keyPair('prod-1');
const prod2 = keyPair('prod-2');
const officer = keyPair('security-officer-1');

let ownNamespace: string;
let prodNs: string;
let devNs: string;
let plainNs: string;
let operator: RunningOperator;
const policies: string[] = [];
const core = () => kubeClient().makeApiClient(CoreV1Api);

async function label(namespace: string, labels: Record<string, string>) {
  const args = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  await kubectl(['label', 'namespace', namespace, '--overwrite', ...args]);
}

async function applyJson(object: object) {
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(object) });
}

async function applyPolicy(name: string, spec: TrustPolicySpec) {
  if (!policies.includes(name)) policies.push(name);
  await applyJson({
    apiVersion: 'mathison.io/v1alpha1',
    kind: 'GenomeTrustPolicy',
    metadata: { name },
    spec,
  });
}

/** Only this run's namespaces labelled `env`. */
const runOf = (env?: string) => ({
  namespaceSelector: { matchLabels: { [RUN_LABEL]: RUN, ...(env !== undefined && { env }) } },
});

async function applyGenome(namespace: string, name: string, document: Genome) {
  await applyJson(genomeManifest(document, name, namespace));
}

const verifiedOf = (g: GenomeResource | undefined) =>
  g?.status?.conditions?.find((c) => c.type === 'Verified');

/** Waits until the Genome's Verified condition has `status` (and `reason`); returns the Genome. */
async function verifiedBecomes(
  namespace: string,
  name: string,
  status: 'True' | 'False',
  reason?: string,
): Promise<GenomeResource> {
  return eventually(
    `${namespace}/${name} Verified=${status} ${reason ?? ''}`,
    async () => {
      const g = await readGenome(namespace, name);
      const c = verifiedOf(g);
      const done = c?.status === status && (reason === undefined || c.reason === reason);
      return done ? g : undefined;
    },
    30_000,
  );
}

async function secret(name: string, keys: TestKeyPair[], annotations: Record<string, string> = {}) {
  const manifest = trustSecret(
    ownNamespace,
    name,
    Object.fromEntries(keys.map((k) => [k.keyId, k.publicKey] as const)),
  );
  await applyJson({
    ...manifest,
    metadata: {
      ...manifest.metadata,
      annotations: { ...manifest.metadata.annotations, ...annotations },
    },
  });
}

const gateOf = (p: V1Pod) => p.status?.conditions?.find((c) => c.type === GATE);

async function gateBecomes(namespace: string, name: string, status: string, reason?: string) {
  return eventually(
    `pod ${namespace}/${name} gate ${status}`,
    async () => {
      const gate = gateOf(await core().readNamespacedPod({ namespace, name }));
      const done = gate?.status === status && (reason === undefined || gate.reason === reason);
      return done ? gate : undefined;
    },
    30_000,
  );
}

/** A pod of Genome `genomeName` as the pod webhook admits it, held unscheduled. */
async function gatedPodOf(namespace: string, name: string, g: GenomeResource, genomeName: string) {
  const { configMapName = '', genomeId = '' } = g.status ?? {};
  const manifest = pod(
    name,
    inNamespace(namespace),
    naming(genomeName),
    admittedWith(genomeId),
    held(),
    gated(),
    mounts(configMapName),
  );
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(manifest) });
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  prodNs = await uniqueNamespace('prod');
  devNs = await uniqueNamespace('dev');
  plainNs = await uniqueNamespace('plain');
  await label(prodNs, { [RUN_LABEL]: RUN, env: 'production' });
  await label(devNs, { [RUN_LABEL]: RUN, env: 'dev' });
  await label(plainNs, { [RUN_LABEL]: RUN, env: 'plain' });
  await secret('dev-signers', [dev]);
  await secret('prod-signers', [prod1, prod2, officer]);
  await applyPolicy(`prod-${RUN}`, {
    mode: 'Enforce',
    match: runOf('production'),
    keys: { secretRefs: [{ name: 'prod-signers' }] },
    threshold: 2,
    requiredKeyIds: [officer.keyId],
  });
  await applyPolicy(`dev-${RUN}`, {
    mode: 'Enforce',
    match: runOf('dev'),
    keys: { secretRefs: [{ name: 'dev-signers' }] },
  });
  const kubeconfig = await operatorCredentials(ownNamespace);
  operator = await startOperator({ namespace: ownNamespace, kubeconfig, identity: 'operator-0' });
}, 120_000);

afterAll(async () => {
  if (policies.length > 0)
    await kubectl(['delete', 'gtp', ...policies, '--wait=false'], { allowFailure: true });
  await endOperatorTest(operator, ownNamespace, [prodNs, devNs, plainNs]);
});

describe('trust policies, judged by the operator', () => {
  it('a dev key cannot get a genome verified in production, nor production keys in dev; each refusal names its policy', async () => {
    const devSigned = genome(signedBy(dev));
    await applyGenome(prodNs, 'app', devSigned);
    await applyGenome(devNs, 'app', devSigned);
    const refused = await verifiedBecomes(prodNs, 'app', 'False', 'GENOME_UNTRUSTED_SIGNER');
    expect(verifiedOf(refused)?.message).toContain(`policy prod-${RUN}:`);
    expect(refused.status?.policies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ policy: 'default', held: true }),
        expect.objectContaining({
          policy: `prod-${RUN}`,
          mode: 'Enforce',
          held: false,
          reason: 'GENOME_UNTRUSTED_SIGNER',
          signers: [{ keyId: 'dev-1', counted: false, state: 'not a key of this policy' }],
        }),
      ]),
    );
    await verifiedBecomes(devNs, 'app', 'True');
    await applyGenome(devNs, 'prod-signed', genome(signedBy(prod1, officer)));
    const wrongWay = await verifiedBecomes(
      devNs,
      'prod-signed',
      'False',
      'GENOME_UNTRUSTED_SIGNER',
    );
    expect(verifiedOf(wrongWay)?.message).toContain(`policy dev-${RUN}:`);
  });

  it('production needs 2 of 3 with the required signer', async () => {
    await applyGenome(prodNs, 'two-without-officer', genome(signedBy(prod1, prod2)));
    await applyGenome(prodNs, 'with-officer', genome(signedBy(prod1, officer)));
    await applyGenome(prodNs, 'officer-alone', genome(signedBy(officer)));
    await verifiedBecomes(prodNs, 'two-without-officer', 'False', 'POLICY_REQUIRED_SIGNER_MISSING');
    const ok = await verifiedBecomes(prodNs, 'with-officer', 'True');
    expect(ok.status?.verifiedSigners).toEqual(['prod-1', 'security-officer-1']);
    await verifiedBecomes(prodNs, 'officer-alone', 'False', 'GENOME_THRESHOLD_NOT_MET');
  });

  it('relabelling a namespace judges its Genomes again', async () => {
    await applyGenome(devNs, 'moving', genome(signedBy(dev)));
    await verifiedBecomes(devNs, 'moving', 'True');
    await label(devNs, { env: 'production' });
    await verifiedBecomes(devNs, 'moving', 'False', 'GENOME_UNTRUSTED_SIGNER');
    await label(devNs, { env: 'dev' });
    await verifiedBecomes(devNs, 'moving', 'True');
  });

  it('a policy naming a missing Secret is not Ready, and the Genomes it governs are refused until it is fixed', async () => {
    await applyGenome(devNs, 'governed', genome(signedBy(dev)));
    await verifiedBecomes(devNs, 'governed', 'True');
    const name = `broken-${RUN}`;
    await applyPolicy(name, {
      mode: 'Enforce',
      match: runOf('dev'),
      keys: { secretRefs: [{ name: 'no-such-secret' }] },
    });
    await verifiedBecomes(devNs, 'governed', 'False', 'POLICY_NOT_READY');
    const status = await eventually(`gtp ${name} not Ready`, async () => {
      const got = await kubectl(['get', 'gtp', name, '-o', 'json']);
      const policy = JSON.parse(got.stdout) as {
        status?: { conditions?: { type: string; status: string; message: string }[] };
      };
      const ready = policy.status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' ? ready : undefined;
    });
    expect(status.message).toContain('no-such-secret');
    await secret('no-such-secret', [dev]);
    await verifiedBecomes(devNs, 'governed', 'True');
  });

  it('Warn does not refuse; switched to Enforce it closes the gates of the pods whose Genome now fails', async () => {
    const name = `strict-${RUN}`;
    await applyGenome(plainNs, 'warned', genome(signedBy(dev)));
    await applyPolicy(name, { mode: 'Warn', match: runOf('plain'), threshold: 2 });
    const warned = await eventually('the Warn policy to be reported', async () => {
      const g = await readGenome(plainNs, 'warned');
      return g?.status?.policies?.some((p) => p.policy === name && !p.held) ? g : undefined;
    });
    expect(verifiedOf(warned)).toMatchObject({ status: 'True' });
    expect(verifiedOf(warned)?.message).toContain(`policy ${name} (Warn) does not hold`);
    const ready = await eventually('a ConfigMap', async () => {
      const g = await readGenome(plainNs, 'warned');
      return g?.status?.configMapName ? g : undefined;
    });
    await gatedPodOf(plainNs, 'web', ready, 'warned');
    await gateBecomes(plainNs, 'web', 'True');
    const since = performance.now();
    await applyPolicy(name, { mode: 'Enforce', match: runOf('plain'), threshold: 2 });
    await gateBecomes(plainNs, 'web', 'False', 'GENOME_THRESHOLD_NOT_MET');
    console.log(
      `Warn → Enforce: the gate closed ${Math.round(performance.now() - since)} ms after the policy edit`,
    );
    await verifiedBecomes(plainNs, 'warned', 'False', 'GENOME_THRESHOLD_NOT_MET');
    await kubectl(['delete', 'gtp', name]);
    await gateBecomes(plainNs, 'web', 'True');
  });

  it('a key past its not-after stops counting at the boundary, with no write to the cluster; a not-before key starts counting at its own', async () => {
    const expiring = keyPair('expiring-1');
    const later = keyPair('later-1');
    const boundary = new Date(Date.now() + 15_000).toISOString();
    await secret('expiring-signers', [expiring], { [NOT_AFTER_ANNOTATION]: boundary });
    await secret('later-signers', [later], { [NOT_BEFORE_ANNOTATION]: boundary });
    await applyGenome(plainNs, 'expiring', genome(signedBy(expiring)));
    await applyGenome(plainNs, 'later', genome(signedBy(later)));
    const before = await verifiedBecomes(plainNs, 'expiring', 'True');
    const metric = await eventually('the key expiry metric', async () => {
      const { text } = await operatorHealth(operator.port, '/metrics');
      return /genome_trusted_key_expiration_timestamp_seconds\{secret="expiring-signers",key_id="expiring-1"\} (\S+)/.exec(
        text,
      )?.[1];
    });
    expect(Number(metric)).toBe(Date.parse(boundary) / 1000);
    // Announced ahead: the verdict turns refused at the boundary, with time alone.
    const announced = await eventually('TrustExpiring', async () => {
      const g = await readGenome(plainNs, 'expiring');
      return g?.status?.conditions?.find((c) => c.type === 'TrustExpiring');
    });
    expect(announced).toMatchObject({ status: 'True', reason: 'TRUST_KEY_OUTSIDE_WINDOW' });
    expect(announced.message).toContain(`at ${new Date(Date.parse(boundary)).toISOString()}`);
    const onSecret = await eventually('a KeysExpiring Event on the Secret', async () => {
      const { items } = await core().listNamespacedEvent({
        namespace: ownNamespace,
        fieldSelector: 'involvedObject.name=expiring-signers',
      });
      return items.find((e) => e.reason === 'KeysExpiring');
    });
    expect(onSecret.type).toBe('Warning');
    await verifiedBecomes(plainNs, 'later', 'False', 'TRUST_KEY_OUTSIDE_WINDOW');
    await gatedPodOf(plainNs, 'expiring-pod', before, 'expiring');
    await gateBecomes(plainNs, 'expiring-pod', 'True');
    // Nothing is written from here on: the boundary alone turns both.
    await gateBecomes(plainNs, 'expiring-pod', 'False', 'TRUST_KEY_OUTSIDE_WINDOW');
    const closedAt = Date.now();
    expect(closedAt).toBeGreaterThanOrEqual(Date.parse(boundary));
    console.log(
      `not-after: the gate closed ${closedAt - Date.parse(boundary)} ms after the boundary`,
    );
    await verifiedBecomes(plainNs, 'expiring', 'False', 'TRUST_KEY_OUTSIDE_WINDOW');
    await verifiedBecomes(plainNs, 'later', 'True');
  });

  it('rotates a key as docs/trust-policies.md says, with no gate leaving True', async () => {
    const old = keyPair('rotate-old');
    const next = keyPair('rotate-new');
    await secret('rotate-old-signers', [old]);
    const published = async (signers: number) =>
      eventually(`rotated published, ${signers} signer(s)`, async () => {
        const g = await readGenome(plainNs, 'rotated');
        const ok = verifiedOf(g)?.status === 'True' && g?.status?.configMapName !== undefined;
        return ok && g?.status?.verifiedSigners?.length === signers ? g : undefined;
      });
    await applyGenome(plainNs, 'rotated', genome(signedBy(old)));
    await gatedPodOf(plainNs, 'rotated-a', await published(1), 'rotated');
    await gateBecomes(plainNs, 'rotated-a', 'True');
    // Every gate of the Genome's pods, polled throughout: none may turn False.
    const seen = new Set<string>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const { items } = await core().listNamespacedPod({ namespace: plainNs });
        for (const p of items.filter((i) => i.metadata?.name?.startsWith('rotated-')))
          seen.add(`${p.metadata?.name} ${gateOf(p)?.status ?? 'none'} ${gateOf(p)?.reason ?? ''}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // 1. The new key, in a Secret of its own.
    await secret('rotate-new-signers', [next]);
    // 2. The genome signed by both (the new key declared too: a new genome id, a new
    //    ConfigMap), and the pods rolled onto it, as a Deployment's rollout replaces them.
    await applyGenome(plainNs, 'rotated', genome(signedBy(old, next)));
    await gatedPodOf(plainNs, 'rotated-b', await published(2), 'rotated');
    await gateBecomes(plainNs, 'rotated-b', 'True');
    await core().deleteNamespacedPod({
      namespace: plainNs,
      name: 'rotated-a',
      gracePeriodSeconds: 0,
    });
    // 3. The old key retired by its not-after.
    const boundary = new Date(Date.now() + 3_000).toISOString();
    await secret('rotate-old-signers', [old], { [NOT_AFTER_ANNOTATION]: boundary });
    const after = await eventually('the old key past its not-after', async () => {
      const g = await readGenome(plainNs, 'rotated');
      const signers = g?.status?.verifiedSigners?.join();
      return Date.now() > Date.parse(boundary) + 500 && signers === 'rotate-new' ? g : undefined;
    });
    watching = false;
    await watch;
    expect(verifiedOf(after)?.status).toBe('True');
    // A new pod shows no gate until the operator's first write: only False would be a gap.
    expect([...seen].filter((s) => s.includes(' False '))).toEqual([]);
    expect([...seen].some((s) => s.startsWith('rotated-b True'))).toBe(true);
  });

  it("the CLI's offline verdict under the cluster's policies and trust Secrets is the cluster's, Genome by Genome", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'policies-cli-'));
    try {
      const policiesFile = join(dir, 'policies.yaml');
      writeFileSync(policiesFile, (await kubectl(['get', 'gtp', '-o', 'yaml'])).stdout);
      const secretsFile = join(dir, 'secrets.yaml');
      const secrets = ['get', 'secret', '-n', ownNamespace, '-l', `${TRUSTED_KEYS_LABEL}=true`];
      writeFileSync(secretsFile, (await kubectl([...secrets, '-o', 'yaml'])).stdout);
      let compared = 0;
      for (const namespace of [prodNs, devNs, plainNs]) {
        const ns = await core().readNamespace({ name: namespace });
        const labels = Object.entries(ns.metadata?.labels ?? {})
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
        const { items } = await kubectl(['get', 'gn', '-n', namespace, '-o', 'json']).then(
          (r) => JSON.parse(r.stdout) as { items: GenomeResource[] },
        );
        for (const g of items) {
          const file = join(dir, `${namespace}-${g.metadata.name}.json`);
          writeFileSync(file, JSON.stringify(g.spec.genome));
          const cli = spawnSync(
            TSX,
            [
              ...['scripts/genome-verify.ts', file, '--policy', policiesFile],
              ...['--trust-secret', secretsFile, '--namespace-labels', labels],
            ],
            { cwd: ROOT, encoding: 'utf8', env: environmentWithoutProxies() },
          );
          // The report on stdout, a refusal on stderr (docs/cli.md).
          const offline = /^(VERIFIED)\b|^REFUSED (\w+)/m.exec(cli.stdout + cli.stderr);
          const cluster = verifiedOf(g);
          const said = cluster?.status === 'True' ? 'VERIFIED' : cluster?.reason;
          expect(
            offline?.[1] ?? offline?.[2],
            `${namespace}/${g.metadata.name}\n${cli.stdout}${cli.stderr}`,
          ).toBe(said);
          compared += 1;
        }
      }
      expect(compared).toBeGreaterThanOrEqual(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('deleting the only policy that matches refuses its Genomes POLICY_NO_MATCH, and they return with it', async () => {
    const saved = (await kubectl(['get', 'gtp', 'default', '-o', 'json'])).stdout;
    const { metadata, spec } = JSON.parse(saved) as { metadata: { name: string }; spec: object };
    try {
      await kubectl(['delete', 'gtp', 'default']);
      await verifiedBecomes(plainNs, 'rotated', 'False', 'POLICY_NO_MATCH');
    } finally {
      // The harness's default, as it was (other test files rely on it).
      await applyJson({
        apiVersion: 'mathison.io/v1alpha1',
        kind: 'GenomeTrustPolicy',
        metadata: { name: metadata.name },
        spec,
      });
    }
    await verifiedBecomes(plainNs, 'rotated', 'True');
  });

  it("writes each policy's status: Ready and the Genomes it matched", async () => {
    const status = await eventually(`gtp prod-${RUN} counts`, async () => {
      const got = await kubectl(['get', 'gtp', `prod-${RUN}`, '-o', 'json']);
      const policy = JSON.parse(got.stdout) as {
        metadata: { generation: number };
        status?: {
          observedGeneration?: number;
          matched?: number;
          verified?: number;
          refused?: number;
        };
      };
      return policy.status?.matched === 4
        ? { ...policy.status, generation: policy.metadata.generation }
        : undefined;
    });
    expect(status).toMatchObject({ matched: 4, verified: 1, refused: 3 });
    expect(status.observedGeneration).toBe(status.generation);
    const table = await kubectl(['get', 'gtp', `prod-${RUN}`]);
    expect(table.stdout).toMatch(/MODE\s+MATCHED\s+VERIFIED\s+REFUSED\s+READY/);
    expect(table.stdout).toMatch(/Enforce\s+4\s+1\s+3\s+True/);
  });
});
