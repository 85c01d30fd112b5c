import { createHash, createPublicKey, verify } from 'node:crypto';

/**
 * Mathison's loader rule written the obvious way, independently of core/: drop the top-level
 * signatures, rebuild every object with sorted keys, JSON.stringify; the id is its SHA-256;
 * `signature` and every entry of `signatures` must verify with the declared signer's key, and
 * the distinct valid signers must meet the threshold. Returns the id, or throws.
 */
export function mathisonLoad(text: string): string {
  const genome = JSON.parse(text) as Record<string, any>;
  const { signature, signatures = [], ...rest } = genome;
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value === null || typeof value !== 'object') return value;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort())
      sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    return sorted;
  };
  const canonical = Buffer.from(JSON.stringify(sortKeys(rest)), 'utf8');
  const valid = new Set<string>();
  for (const sig of [signature, ...signatures].filter(Boolean)) {
    const signer = genome.authority.signers.find((s: any) => s.key_id === sig.signer_key_id);
    if (!signer) throw new Error(`signature by undeclared ${sig.signer_key_id}`);
    const key = createPublicKey({
      key: Buffer.from(signer.public_key, 'base64'),
      format: 'der',
      type: 'spki',
    });
    if (!verify(null, canonical, key, Buffer.from(sig.sig_base64, 'base64'))) {
      throw new Error(`signature by ${sig.signer_key_id} does not verify`);
    }
    valid.add(sig.signer_key_id);
  }
  if (valid.size < genome.authority.threshold) throw new Error('threshold not met');
  return createHash('sha256').update(canonical).digest('hex');
}
