/**
 * The policies whose namespaceSelector selects a namespace's labels, kept per set of policies
 * and per labels: every admission in a namespace would otherwise test every policy's selector
 * again (issue 21 asks admission under 20 policies to cost within 5% of one). `judge` still
 * matches each policy it is given (selector and genome names) and decides; a policy left out
 * here is one its own first test refuses (core/trust-policy.ts policyMatches), so the verdict
 * is the same.
 */
import { selects, type TrustPolicy } from '../core/trust-policy.ts';

/** Most label sets remembered per policy set (namespaces admitted into), cleared when full. */
const MAX_LABEL_SETS = 1_000;

const selected = new WeakMap<readonly TrustPolicy[], Map<string, readonly TrustPolicy[]>>();

/**
 * The policies that may govern Genomes of a namespace with these labels: those whose
 * namespaceSelector selects them (or that have none). `policies` is taken as a value, never
 * changed once given (kube/trust-view.ts builds a new array on every change).
 */
export function policiesForLabels(
  policies: readonly TrustPolicy[],
  labels: Readonly<Record<string, string>>,
): readonly TrustPolicy[] {
  let byLabels = selected.get(policies);
  if (byLabels === undefined) {
    byLabels = new Map();
    selected.set(policies, byLabels);
  }
  const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
  let found = byLabels.get(key);
  if (found === undefined) {
    found = policies.filter((p) => {
      const selector = p.spec.match?.namespaceSelector;
      return selector === undefined || selects(selector, labels);
    });
    if (byLabels.size >= MAX_LABEL_SETS) byLabels.clear();
    byLabels.set(key, found);
  }
  return found;
}
