/**
 * The verdicts the Genome controller has published, by Genome key: what the gate and rollout
 * controllers read. The Genome controller is the only one that verifies; it records here, for
 * each Genome, the verdict it decided (the production rule applied) and the verdicts of the
 * genomes its ConfigMaps hold, under which key set and for which Genome (uid and generation). A
 * reader takes an entry only when it was decided under the key set in force now, for the Genome
 * cached now (isCurrent); otherwise it waits, since the Genome controller is on its way to a
 * newer one.
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
  /** The uid and generation of the Genome it was decided for (its document as it was then). */
  uid: string;
  generation: number;
  /** The version of the key set it was decided under (kube/trust-view.ts TrustView.version: keys, policies, namespace labels). */
  keyVersion: string;
  /** The Genome's own verdict. */
  verdict: VerdictSummary;
  /**
   * The verdicts of the genomes its ConfigMaps hold, by ConfigMap name: the current one once it
   * is in place, and older ones that pods still mount (a rollout under way).
   */
  configMaps: ReadonlyMap<string, VerdictSummary>;
  /** The trust policies that matched it and whether each held (the policies' status counts). */
  policies?: readonly { policy: string; held: boolean }[];
}

/** Whether `entry` was decided for this Genome as it is now, under the keys of `keyVersion`. */
export function isCurrent(
  entry: PublishedVerdict | undefined,
  genome: { metadata?: { uid?: string; generation?: number } },
  keyVersion: string,
): entry is PublishedVerdict {
  return (
    entry !== undefined &&
    entry.uid === genome.metadata?.uid &&
    entry.generation === (genome.metadata?.generation ?? 0) &&
    entry.keyVersion === keyVersion
  );
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

  /** Every entry (a new array). */
  list(): PublishedVerdict[] {
    return [...this.entries.values()];
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
  const same = a.uid === b.uid && a.generation === b.generation && a.keyVersion === b.keyVersion;
  if (!same || !sameVerdict(a.verdict, b.verdict)) return false;
  if (JSON.stringify(a.policies ?? []) !== JSON.stringify(b.policies ?? [])) return false;
  return sameConfigMaps(a.configMaps, b.configMaps);
}

function sameConfigMaps(
  a: ReadonlyMap<string, VerdictSummary>,
  b: ReadonlyMap<string, VerdictSummary>,
): boolean {
  if (a.size !== b.size) return false;
  for (const [name, verdict] of a) {
    const other = b.get(name);
    if (other === undefined || !sameVerdict(verdict, other)) return false;
  }
  return true;
}

function sameVerdict(a: VerdictSummary, b: VerdictSummary): boolean {
  if (a.ok && b.ok) return a.genomeId === b.genomeId && a.signers.join() === b.signers.join();
  if (!a.ok && !b.ok) return a.code === b.code && a.message === b.message;
  return false;
}
