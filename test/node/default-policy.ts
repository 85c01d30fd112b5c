// The GenomeTrustPolicy `default` on the shared node cluster: the node tests that run an
// operator of their own apply the harness's (installGenomeCrd), which Helm does not own, so a
// chart install there fails ("invalid ownership metadata") until it is gone; and the chart's own
// goes with `helm uninstall`. The files run one at a time (vitest.config.ts), so a chart test
// hands the policy to its release before installing and takes it back after uninstalling.
import { join } from 'node:path';
import { DEFAULT_TRUST_POLICY_NAME } from '../../core/trust-policy-schema.ts';
import { installGenomeCrd, kubectl } from '../support/cluster.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** Who manages the `default` policy: 'Helm', '' (the harness's), or undefined when there is none. */
export async function defaultPolicyManager(): Promise<string | undefined> {
  const out = await kubectl(
    [
      ...['get', 'gtp', DEFAULT_TRUST_POLICY_NAME, '--ignore-not-found'],
      ...['-o', 'jsonpath={.metadata.name} {.metadata.labels.app\\.kubernetes\\.io/managed-by}'],
    ],
    { allowFailure: true },
  );
  if (out.code !== 0 || out.stdout.trim() === '') return undefined;
  return out.stdout.slice(out.stdout.indexOf(' ') + 1).trim();
}

/** Deletes the harness's `default` policy, if any, so that a release can create its own. */
export async function yieldDefaultPolicyToChart(): Promise<void> {
  if ((await defaultPolicyManager()) === '')
    await kubectl(['delete', 'gtp', DEFAULT_TRUST_POLICY_NAME, '--wait']);
}

/** Applies the harness's `default` policy (and both CRDs), as the node tests that run an operator do. */
export async function applyHarnessDefaultPolicy(): Promise<void> {
  await installGenomeCrd(join(ROOT, 'crds', 'genomes.mathison.io.yaml'));
}
