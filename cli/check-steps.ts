/**
 * `genome check`'s steps, as `cmctl check api` probes cert-manager: the CRDs are served, the
 * webhook refuses a tampered Genome itself (cli/selfcheck-plan.ts judges the answer, as the
 * chart's self-check does), and an operator replica holds the leader Lease. Each step answers
 * ok, or what failed and what to do.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  CoordinationV1Api,
  CustomObjectsApi,
} from '@kubernetes/client-node';
import { GENOME_API_VERSION, GENOME_GROUP, GENOME_PLURAL, GENOME_VERSION } from '../core/api.ts';
import { canonicalBytes } from '../core/canonical.ts';
import { displayText } from '../core/display.ts';
import type { Genome } from '../core/genome.ts';
import { withSignature } from '../core/sign.ts';
import { TRUST_POLICY_PLURAL } from '../core/trust-policy-schema.ts';
import { statusCode } from '../kube/errors.ts';
import type { PooledKubeConfig } from '../kube/kubeconfig.ts';
import { apiErrorText } from './cluster.ts';
import { dryRunCreateGenome } from './dry-run.ts';
import { operatorOf } from './operator-of.ts';
import { judgeTampered, tamper, type CreateAnswer } from './selfcheck-plan.ts';

/** What one step found. */
export type StepResult = { ok: true; detail: string } | { ok: false; why: string; todo: string };

export interface CheckTarget {
  kc: PooledKubeConfig;
  /** Where the tampered Genome is created (dry run). */
  namespace: string;
  /** The operator's namespace and Lease; '' for those found from the webhook configuration. */
  operatorNamespace: string;
  leaseName: string;
}

export interface Step {
  name: string;
  run(target: CheckTarget): Promise<StepResult>;
}

const ok = (detail: string): StepResult => ({ ok: true, detail });
const failed = (why: string, todo: string): StepResult => ({ ok: false, why, todo });

async function crdsServed({ kc }: CheckTarget): Promise<StepResult> {
  let names: string[];
  try {
    const list = await kc
      .makeApiClient(CustomObjectsApi)
      .getAPIResources({ group: GENOME_GROUP, version: GENOME_VERSION });
    names = list.resources.map((r) => r.name);
  } catch (err) {
    const todo =
      statusCode(err) === 404
        ? 'install the chart (it installs the CRDs) or kubectl apply -f crds/'
        : 'check the kubeconfig and that the API server is reachable';
    return failed(`${GENOME_API_VERSION} is not served: ${apiErrorText(err)}`, todo);
  }
  const missing = [GENOME_PLURAL, TRUST_POLICY_PLURAL].filter((p) => !names.includes(p));
  if (missing.length > 0)
    return failed(
      `${GENOME_API_VERSION} does not serve ${missing.join(', ')}`,
      'install or upgrade the chart (it installs the CRDs) or kubectl apply -f crds/',
    );
  return ok(`${GENOME_API_VERSION} serves ${GENOME_PLURAL} and ${TRUST_POLICY_PLURAL}`);
}

/** A genome signed by a key made for this check alone, then changed: its signature fails. */
function tamperedGenome(): Record<string, unknown> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const unsigned: Genome = {
    schema_version: 'genome.v0.1',
    name: 'genome-check',
    version: '1.0.0',
    parents: [],
    created_at: '2026-01-01T00:00:00Z',
    authority: {
      signers: [
        {
          key_id: 'genome-check',
          alg: 'ed25519',
          public_key: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        },
      ],
      threshold: 1,
    },
    invariants: [],
    capabilities: [],
    build_manifest: { files: [] },
  };
  const sig = sign(null, canonicalBytes(unsigned), privateKey).toString('base64');
  const signed = withSignature(unsigned, {
    alg: 'ed25519',
    signer_key_id: 'genome-check',
    sig_base64: sig,
  });
  return tamper(signed as unknown as Record<string, unknown>);
}

function dryRunCreate(target: CheckTarget): Promise<CreateAnswer> {
  const objects = target.kc.makeApiClient(CustomObjectsApi);
  return dryRunCreateGenome(objects, target.namespace, tamperedGenome(), 'genome-check-tampered-');
}

/** What a TRUST_KEYS_MISSING answer means for the install (the chart trusts no key by default). */
const NO_KEY_YET =
  ' (no key is trusted yet: every Genome is refused until a trust Secret holds one; docs/install.md, "Trusted keys")';

async function webhookRefuses(target: CheckTarget): Promise<StepResult> {
  const verdict = judgeTampered(await dryRunCreate(target));
  const where = `namespace ${displayText(target.namespace)}`;
  if (verdict.kind === 'refused')
    return ok(
      `the webhook refused a tampered Genome in ${where} with ${verdict.code}${verdict.code === 'TRUST_KEYS_MISSING' ? NO_KEY_YET : ''}`,
    );
  const why = 'why' in verdict ? displayText(verdict.why, 300) : verdict.kind;
  return failed(
    `a tampered Genome in ${where} was not refused by the webhook: ${why}`,
    'check that the webhook is registered (kubectl get validatingwebhookconfigurations) and its pods are Ready; the namespace must exist and be one the webhook covers',
  );
}

/** How long after renewTime plus the lease duration a Lease still counts (clock skew). */
const SKEW_MS = 15_000;

/**
 * The target with the operator's namespace and Lease filled in: as given, else as the Genome
 * webhook's configuration (cluster-scoped) says where the chart put them, else the defaults.
 */
async function withOperator(target: CheckTarget): Promise<CheckTarget> {
  if (target.operatorNamespace !== '' && target.leaseName !== '') return target;
  let found: ReturnType<typeof operatorOf>;
  try {
    const api = target.kc.makeApiClient(AdmissionregistrationV1Api);
    found = operatorOf((await api.listValidatingWebhookConfiguration()).items);
  } catch {
    found = undefined; // not allowed to list them: the defaults, and the step says which
  }
  return {
    ...target,
    operatorNamespace: target.operatorNamespace || found?.namespace || 'genome-system',
    leaseName: target.leaseName || found?.leaseName || 'genome-operator',
  };
}

async function leaderHeld(given: CheckTarget): Promise<StepResult> {
  const target = await withOperator(given);
  const where = `Lease ${displayText(target.operatorNamespace)}/${displayText(target.leaseName)}`;
  const todo = `check the operator's pods in ${displayText(target.operatorNamespace)} (kubectl logs), or pass --operator-namespace / --lease-name`;
  let lease;
  try {
    lease = await target.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: target.leaseName, namespace: target.operatorNamespace });
  } catch (err) {
    return failed(`cannot read ${where}: ${apiErrorText(err)}`, todo);
  }
  const holder = lease.spec?.holderIdentity ?? '';
  const renewed = new Date(lease.spec?.renewTime ?? 0).getTime();
  const lasts = (lease.spec?.leaseDurationSeconds ?? 15) * 1000;
  if (holder === '') return failed(`no operator replica holds ${where}`, todo);
  if (renewed + lasts + SKEW_MS < Date.now())
    return failed(
      `${where} was last renewed by ${displayText(holder)} at ${new Date(renewed).toISOString()}: no replica renews it`,
      todo,
    );
  return ok(`${displayText(holder)} holds ${where}`);
}

export const STEPS: readonly Step[] = [
  { name: 'CRDs', run: crdsServed },
  { name: 'webhook', run: webhookRefuses },
  { name: 'operator', run: leaderHeld },
];
