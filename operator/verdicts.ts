/**
 * The verdicts the Genome controller has published, by Genome key: what the gate and rollout
 * controllers read. The Genome controller is the only one that verifies; it records here, for
 * each Genome, the verdict it decided (the production rule applied) and the verdicts of the
 * genomes its ConfigMaps hold, under which key set and for which Genome uid. A reader takes an
 * entry only when it was decided under the key set in force now, for the Genome cached now;
 * otherwise it waits, since the Genome controller is already on its way to a newer one.
 *
 * In memory, not in the Genome's status: a tenant who can write a Genome's status must not be
 * able to open a gate, and a revocation must reach the gates without waiting for a status
 * write of each Genome.
 */
import type { Refused, Verdict } from '../core/verify.ts';

/** A verdict as the gates and rollouts read it: no genome (a published entry holds none). */
export type VerdictSummary = { ok: true; genomeId: string; signers: readonly string[] } | Refused;

/** What the Genome controller decided for one Genome. */
export interface PublishedVerdict {
  /** The uid of the Genome it was decided for. */
  uid: string;
  /** The version of the key set it was decided under (verify-cache.ts keySetVersion). */
  keyVersion: string;
  /** The Genome's own verdict. */
  verdict: VerdictSummary;
  /**
   * The verdicts of the genomes its ConfigMaps hold, by ConfigMap name: the current one once it
   * is in place, and older ones that pods still mount (a rollout under way).
   */
  published: ReadonlyMap<string, VerdictSummary>;
}

/** The summary of a verdict (drops the parsed genome and the warnings). */
export function summarize(verdict: Verdict): VerdictSummary {
  if (!verdict.ok) return verdict;
  return { ok: true, genomeId: verdict.genomeId, signers: verdict.signers };
}

/** The published verdicts, and who to tell when one changes. */
export class Verdicts {
  private readonly entries = new Map<string, PublishedVerdict>();
  private readonly handlers = new Set<(key: string) => void>();

  get(key: string): PublishedVerdict | undefined {
    return this.entries.get(key);
  }

  /** Records the entry of `key`; tells the handlers when it differs from the one before. */
  set(key: string, entry: PublishedVerdict): void {
    const before = this.entries.get(key);
    this.entries.set(key, entry);
    if (before === undefined || !sameEntry(before, entry)) this.tell(key);
  }

  /** The Genome `key` is gone. */
  delete(key: string): void {
    if (this.entries.delete(key)) this.tell(key);
  }

  /** Calls `handler` with the key of each entry that changed; returns an unsubscriber. */
  onChange(handler: (key: string) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  private tell(key: string): void {
    for (const handler of this.handlers) handler(key);
  }
}

function sameEntry(a: PublishedVerdict, b: PublishedVerdict): boolean {
  if (a.uid !== b.uid || a.keyVersion !== b.keyVersion || !sameVerdict(a.verdict, b.verdict))
    return false;
  if (a.published.size !== b.published.size) return false;
  for (const [name, verdict] of a.published) {
    const other = b.published.get(name);
    if (other === undefined || !sameVerdict(verdict, other)) return false;
  }
  return true;
}

function sameVerdict(a: VerdictSummary, b: VerdictSummary): boolean {
  if (a.ok && b.ok) return a.genomeId === b.genomeId && a.signers.join() === b.signers.join();
  if (!a.ok && !b.ok) return a.code === b.code && a.message === b.message;
  return false;
}
