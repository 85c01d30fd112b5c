import type { Genome, GenomeSignature } from './genome.ts';

/**
 * Returns the genome with a signature added, never dropping another signer's. A signer who
 * signs again replaces only their own entry, wherever it is (a stale copy would fail
 * verification). Otherwise the signature goes to `signature` when the genome has none yet,
 * as upstream's genome-sign writes it, and is appended to `signatures` when the genome
 * already carries one: upstream's loader reads both together, so a genome signed only in
 * `signatures` keeps that form.
 */
export function withSignature(genome: Genome, signature: GenomeSignature): Genome {
  const { signature: primary, signatures, ...rest } = genome;
  const id = signature.signer_key_id;
  const list = signatures ?? [];
  const listed = list.some((s) => s.signer_key_id === id);
  if (primary?.signer_key_id === id || (primary === undefined && list.length === 0)) {
    const others = list.filter((s) => s.signer_key_id !== id);
    return { ...rest, signature, ...(signatures === undefined ? {} : { signatures: others }) };
  }
  const updated = listed
    ? list.map((s) => (s.signer_key_id === id ? signature : s))
    : [...list, signature];
  return { ...rest, ...(primary === undefined ? {} : { signature: primary }), signatures: updated };
}
