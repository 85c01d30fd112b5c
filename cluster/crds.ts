/**
 * What every place that starts a cluster of its own installs before the operator: both CRDs
 * (crds/) and the `default` GenomeTrustPolicy the chart creates (core/trust-policy-schema.ts).
 * Without the policy CRD the operator is never ready; without a policy it refuses every
 * Genome (POLICY_NO_MATCH). The caller brings its own kubectl (sync or async).
 */
import { join } from 'node:path';
import { GENOME_GROUP, GENOME_PLURAL } from '../core/api.ts';
import { defaultTrustPolicy, TRUST_POLICY_PLURAL } from '../core/trust-policy-schema.ts';

/** The CRDs' names, each also its file's name (with .yaml) under crds/. */
export const CRD_NAMES = [
  `${GENOME_PLURAL}.${GENOME_GROUP}`,
  `${TRUST_POLICY_PLURAL}.${GENOME_GROUP}`,
] as const;

/** The committed CRD files. */
export const CRD_PATHS = CRD_NAMES.map((name) =>
  join(import.meta.dirname, '..', 'crds', `${name}.yaml`),
);

/** Runs kubectl with `args` (and `input` on its stdin); returns its stdout, throws on failure. */
export type Kubectl = (args: string[], input?: string) => string | Promise<string>;

/** Whether the API server serves every CRD of CRD_NAMES (one kubectl get). */
export async function crdsEstablished(kubectl: Kubectl): Promise<boolean> {
  const jsonpath = '{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{end}';
  const out = await kubectl(['get', 'crd', ...CRD_NAMES, '-o', `jsonpath=${jsonpath}`]);
  return out.trim() === 'True'.repeat(CRD_NAMES.length);
}

/**
 * Applies both CRDs, waits until both are Established (polled: `kubectl wait` fails at once
 * when it reads a CRD before the API server wrote any status), then applies the `default`
 * policy: the flat model, test keys counting as `allowTestKeys` says (the chart: when
 * production is off).
 */
export async function installCrdsAndDefaultPolicy(
  kubectl: Kubectl,
  options: { allowTestKeys: boolean; timeoutMs?: number },
): Promise<void> {
  await kubectl(['apply', ...CRD_PATHS.flatMap((path) => ['-f', path])]);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await crdsEstablished(kubectl))) {
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for the CRDs ${CRD_NAMES.join(', ')} to be Established`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const policy = defaultTrustPolicy({ allowTestKeys: options.allowTestKeys });
  await kubectl(['apply', '-f', '-'], JSON.stringify(policy));
}
