/**
 * Warnings ahead of a trust Secret's not-after, on the Secret itself (as cert-manager warns of
 * a certificate's expiry): once per Secret and not-after, when it comes within
 * EXPIRY_WARNING_MS. The Genomes that would lose their quorum say so themselves
 * (TrustExpiring, operator/decide.ts); the metric genome_trusted_key_expiration_timestamp_seconds
 * carries every not-after for alerts.
 */
import type { EventNote } from '../kube/events.ts';
import { holdersOf, type TrustedKey } from '../core/trust.ts';
import { EXPIRY_WARNING_MS } from './decide.ts';

/** Most (Secret, not-after) pairs remembered as warned; forgotten wholesale beyond. */
const MAX_WARNED = 10_000;

/** Records one Warning Event per trust Secret whose keys reach their not-after soon. */
export class KeyExpiryWarnings {
  private readonly warned = new Set<string>();

  constructor(
    private readonly record: (secret: string, note: EventNote) => void,
    private readonly aheadMs = EXPIRY_WARNING_MS,
  ) {}

  /** Warns of each Secret whose not-after is within the window and not warned of before. */
  check(keys: readonly TrustedKey[], now: number): void {
    for (const [secret, { notAfter, keyIds }] of expiring(keys, now, this.aheadMs)) {
      const id = `${secret} ${notAfter}`;
      if (this.warned.has(id)) continue;
      if (this.warned.size >= MAX_WARNED) this.warned.clear();
      this.warned.add(id);
      this.record(secret, {
        type: 'Warning',
        reason: 'KeysExpiring',
        message: `the keys ${keyIds.join(', ')} of this trust Secret stop counting at ${new Date(notAfter).toISOString()} (its not-after): Genomes signed only by them will be refused; sign them again with a key valid then (docs/trust-policies.md, rotation)`,
      });
    }
  }
}

/** The Secrets whose not-after falls within (now, now + aheadMs], with their key ids. */
function expiring(
  keys: readonly TrustedKey[],
  now: number,
  aheadMs: number,
): Map<string, { notAfter: number; keyIds: string[] }> {
  const bySecret = new Map<string, { notAfter: number; keyIds: string[] }>();
  for (const key of keys)
    for (const { secret, notAfter } of holdersOf(key)) {
      if (secret === undefined || notAfter === undefined) continue;
      if (notAfter <= now || notAfter - now > aheadMs) continue;
      const entry = bySecret.get(secret) ?? { notAfter, keyIds: [] };
      entry.keyIds.push(key.keyId);
      bySecret.set(secret, entry);
    }
  return bySecret;
}
