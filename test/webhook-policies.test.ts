/**
 * The real webhook, over TLS from the real API server, judging Genomes under
 * GenomeTrustPolicies: namespaces labelled env=production, env=dev and env=staging with their
 * own key Secrets and policies. Policies are cluster-scoped and the API server is shared with
 * other test files, so each policy here selects only this run's namespaces (a label
 * genome-test/run=<run> beside env). The `default` policy installGenomeCrd applies matches
 * every namespace (every key, test keys allowed): every matching Enforce policy must hold, so
 * the stricter ones here still decide. POLICY_NO_MATCH needs a namespace the default does not
 * match, which no namespace is: webhook/validate-genome.test.ts covers it with a fake view.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pickFreePorts } from '../cluster/ports.ts';
import { GENOME_GROUP, GENOME_VERSION } from '../core/api.ts';
import type { Genome } from '../core/genome.ts';
import { genomeManifest } from '../core/manifest.ts';
import type { TrustPolicySpec } from '../core/trust-policy.ts';
import { TRUST_POLICY_KIND } from '../core/trust-policy-schema.ts';
import { genomeWebhookConfiguration } from '../core/webhook-config.ts';
import {
  declaring,
  genome,
  keyPair,
  signedBy,
  threshold,
  trustSecret,
  type TestKeyPair,
} from './builders/index.ts';
import { eventually, installGenomeCrd, kubectl, uniqueNamespace } from './support/cluster.ts';
import { startWebhook, type RunningWebhook } from './support/webhook.ts';

const ROOT = join(import.meta.dirname, '..');
const run = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const RUN_LABEL = 'genome-test/run';
const dev = keyPair('dev-1');
const prod1 = keyPair('prod-1');
const prod2 = keyPair('prod-2');
const officer = keyPair('security-officer-1');
const byDev = genome(signedBy(dev));
const byProdWithOfficer = genome(declaring(prod1, prod2, officer), signedBy(prod1, officer));
const byProdWithout = genome(
  declaring(prod1, prod2, officer),
  signedBy(prod1, prod2),
  threshold(2),
);

const policyName = (role: string) => `${role}-${run}`;
const policies: string[] = [];
const ns: Record<'production' | 'dev' | 'staging' | 'moving' | 'missing', string> = {
  production: '',
  dev: '',
  staging: '',
  moving: '',
  missing: '',
};
let ownNamespace: string;
let configName: string;
let webhook: RunningWebhook;

const keysOf = (...pairs: TestKeyPair[]) =>
  Object.fromEntries(pairs.map((k) => [k.keyId, k.publicKey] as const));

async function label(namespace: string, env: string) {
  await kubectl([
    'label',
    'namespace',
    namespace,
    `env=${env}`,
    `${RUN_LABEL}=${run}`,
    '--overwrite',
  ]);
}

/** A GenomeTrustPolicy for this run's namespaces labelled env=`env`. */
async function createPolicy(role: string, env: string, spec: Omit<TrustPolicySpec, 'match'>) {
  const name = policyName(role);
  policies.push(name);
  const policy = {
    apiVersion: `${GENOME_GROUP}/${GENOME_VERSION}`,
    kind: TRUST_POLICY_KIND,
    metadata: { name },
    spec: { ...spec, match: { namespaceSelector: { matchLabels: { env, [RUN_LABEL]: run } } } },
  };
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(policy) });
}

/** `kubectl apply` of a Genome: exit code, stdout and stderr. */
async function applyGenome(namespace: string, name: string, g: Genome, ...flags: string[]) {
  return kubectl(['apply', '-f', '-', ...flags], {
    input: JSON.stringify(genomeManifest(g, name, namespace)),
    allowFailure: true,
  });
}

/** Applies (server dry run) until the answer's stderr matches `expected`, then returns it. */
async function answerMatching(namespace: string, g: Genome, expected: RegExp) {
  let last = '';
  try {
    return await eventually(
      `an answer matching ${expected}`,
      async () => {
        const out = await applyGenome(namespace, 'probe', g, '--dry-run=server');
        last = `${out.code} ${out.stderr}`;
        return expected.test(out.stderr) ? out : undefined;
      },
      30_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; last answer: ${last}`, { cause: err });
  }
}

beforeAll(async () => {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
  ownNamespace = await uniqueNamespace('genome-system');
  for (const env of Object.keys(ns) as (keyof typeof ns)[]) {
    ns[env] = await uniqueNamespace(`policies-${env}`);
    await label(ns[env], env === 'moving' ? 'dev' : env);
  }
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        trustSecret(ownNamespace, 'dev-signers', keysOf(dev)),
        trustSecret(ownNamespace, 'prod-signers', keysOf(prod1, prod2, officer)),
      ],
    }),
  });
  await createPolicy('production', 'production', {
    mode: 'Enforce',
    keys: { secretRefs: [{ name: 'prod-signers' }] },
    threshold: 2,
    requiredKeyIds: [officer.keyId],
  });
  await createPolicy('dev', 'dev', {
    mode: 'Enforce',
    keys: { secretRefs: [{ name: 'dev-signers' }] },
  });
  await createPolicy('staging-warn', 'staging', {
    mode: 'Warn',
    keys: { secretRefs: [{ name: 'prod-signers' }] },
  });
  await createPolicy('missing', 'missing', {
    mode: 'Enforce',
    keys: { secretRefs: [{ name: 'absent-signers' }] },
  });
  // Registered first, as a Helm install does: the webhook fills in its caBundle.
  configName = `genome-policies-${run}`;
  const [port] = (await pickFreePorts(1)) as [number];
  const url = `https://127.0.0.1:${port}/validate-genome`;
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify(genomeWebhookConfiguration(configName, ownNamespace, { url })),
  });
  webhook = await startWebhook({ namespace: ownNamespace, configName, port });
  await answerMatching(ns.dev, byDev, /^$/);
}, 120_000);

afterAll(async () => {
  await kubectl(['delete', 'validatingwebhookconfiguration', configName, '--ignore-not-found'], {
    allowFailure: true,
  });
  await webhook?.stop();
  if (policies.length > 0)
    await kubectl(['delete', 'genometrustpolicies', ...policies, '--ignore-not-found'], {
      allowFailure: true,
    });
  await kubectl(['delete', 'namespace', ...Object.values(ns), ownNamespace, '--wait=false'], {
    allowFailure: true,
  });
});

describe('the webhook under trust policies', () => {
  it("refuses a dev key's genome in production, and the reverse, with the code and the policy's name", async () => {
    const inProduction = await applyGenome(ns.production, 'by-dev', byDev);
    expect(inProduction.code).not.toBe(0);
    expect(inProduction.stderr).toMatch(
      new RegExp(
        `denied the request: GENOME_UNTRUSTED_SIGNER: .*policy ${policyName('production')}: `,
      ),
    );
    const inDev = await applyGenome(ns.dev, 'by-prod', byProdWithOfficer);
    expect(inDev.code).not.toBe(0);
    expect(inDev.stderr).toMatch(
      new RegExp(`denied the request: GENOME_UNTRUSTED_SIGNER: .*policy ${policyName('dev')}: `),
    );
    const devInDev = await applyGenome(ns.dev, 'by-dev', byDev);
    expect(devInDev.code, devInDev.stderr).toBe(0);
  });

  it('admits 2 of 3 in production only with the required signer (POLICY_REQUIRED_SIGNER_MISSING)', async () => {
    const without = await applyGenome(ns.production, 'two-without', byProdWithout);
    expect(without.code).not.toBe(0);
    expect(without.stderr).toMatch(
      new RegExp(
        `POLICY_REQUIRED_SIGNER_MISSING: .*policy ${policyName('production')}: required signer\\(s\\) ${officer.keyId}`,
      ),
    );
    const withOfficer = await applyGenome(ns.production, 'two-with', byProdWithOfficer);
    expect(withOfficer.code, withOfficer.stderr).toBe(0);
  });

  it('admits under a failing Warn policy with a warning kubectl prints', async () => {
    const out = await applyGenome(ns.staging, 'warned', byDev);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain(
      `Warning: GenomeTrustPolicy ${policyName('staging-warn')} (Warn) does not hold: GENOME_UNTRUSTED_SIGNER`,
    );
    expect(out.stdout).toMatch(/created|configured/);
  });

  it('judges the next admission under the new labels when a namespace is relabelled', async () => {
    const before = await applyGenome(ns.moving, 'moved', byDev, '--dry-run=server');
    expect(before.code, before.stderr).toBe(0);
    await label(ns.moving, 'production');
    const after = await answerMatching(ns.moving, byDev, /GENOME_UNTRUSTED_SIGNER/);
    expect(after.stderr).toMatch(new RegExp(`policy ${policyName('production')}: `));
    await label(ns.moving, 'dev');
    await answerMatching(ns.moving, byDev, /^$/);
  });

  it('refuses under a policy that names a missing Secret (POLICY_NOT_READY)', async () => {
    const out = await applyGenome(ns.missing, 'not-ready', byDev);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(
      new RegExp(
        `POLICY_NOT_READY: .*policy ${policyName('missing')}: not ready: trust Secret\\(s\\) "absent-signers"`,
      ),
    );
  });
});
