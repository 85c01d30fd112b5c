/**
 * Judgements kept per set of policies and keys (each an array kube/trust-view.ts builds anew
 * on every change, so a change is a new cache), per namespace labels and per genome (its id
 * and the signers whose signatures verified: everything `judge` reads of it), until the time
 * the judgement itself says it may change (`changesAt`: a key's window, a maxAge). The same
 * genome admitted again (an UPDATE that touches the genome, a retried apply) then costs no
 * judgement: 20 policies and 200 keys cost what one policy does (issue 21).
 */
import {
  judge,
  type GenomeFacts,
  type TrustContext,
  type TrustJudgement,
} from '../core/trust-policy.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { TrustPolicy } from '../core/trust-policy.ts';

/** Most judgements kept per policies and keys; cleared when full. */
const MAX_JUDGEMENTS = 10_000;

type ByGenome = Map<string, TrustJudgement>;
const cache = new WeakMap<readonly TrustPolicy[], WeakMap<readonly TrustedKey[], ByGenome>>();

/** `judge`, from the cache when this genome was judged under these very inputs before. */
export function judgeCached(facts: GenomeFacts, context: TrustContext): TrustJudgement {
  let byKeys = cache.get(context.policies);
  if (byKeys === undefined) {
    byKeys = new WeakMap();
    cache.set(context.policies, byKeys);
  }
  let byGenome = byKeys.get(context.keys);
  if (byGenome === undefined) {
    byGenome = new Map();
    byKeys.set(context.keys, byGenome);
  }
  const labels = Object.entries(context.namespaceLabels).sort(([a], [b]) => (a < b ? -1 : 1));
  const key = `${facts.genomeId} ${facts.signed.join(',')} ${JSON.stringify(labels)}`;
  const known = byGenome.get(key);
  if (known !== undefined && (known.changesAt === undefined || context.now < known.changesAt))
    return known;
  const judgement = judge(facts, context);
  if (byGenome.size >= MAX_JUDGEMENTS) byGenome.clear();
  byGenome.set(key, judgement);
  return judgement;
}
