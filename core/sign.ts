import type { Genome, GenomeSignature } from './genome.ts';

/**
 * Returns the genome with a signature added, never dropping another signer's: the first
 * signature goes to `signature` (the one Mathison verifies at boot), further signers are
 * appended to `signatures`, and a signer who signs again replaces only their own entry.
 */
export function withSignature(genome: Genome, signature: GenomeSignature): Genome {
  const { signature: primary, signatures, ...rest } = genome;
  if (primary === undefined || primary.signer_key_id === signature.signer_key_id) {
    return { ...rest, signature, ...(signatures === undefined ? {} : { signatures }) };
  }
  const others = (signatures ?? []).filter((s) => s.signer_key_id !== signature.signer_key_id);
  return { ...rest, signature: primary, signatures: [...others, signature] };
}
