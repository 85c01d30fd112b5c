import { refuse, type Refusal } from './codes.ts';
import { displayValue } from './display.ts';
import { parseGenome } from './genome.ts';
import { parseTrustFile } from './trust.ts';
import { verify, type Verdict } from './verify.ts';

/** A genome as a pod sees it: the file texts of its ConfigMap and the id it was admitted with. */
export interface MountedGenome {
  /** The text of genome.json, or undefined when the file is absent. */
  genomeText: string | undefined;
  /** The text of trusted-keys.json beside it, or undefined when absent. */
  trustText: string | undefined;
  /** The genome id the pod was admitted with (its genome.mathison.io/id annotation), if known. */
  expectedId?: string;
  /** Where the files are, for messages. */
  source: string;
}

/**
 * Decides at boot whether a mounted genome may be used: it must parse, verify against the
 * trusted keys published beside it, and, when the admitted id is known, be that genome. Any
 * doubt (a missing or unreadable file, no usable key, an entry that is not a key) refuses.
 */
export function checkMountedGenome(mounted: MountedGenome): Verdict {
  if (mounted.genomeText === undefined)
    return fail(refuse('GENOME_MISSING', `${mounted.source}: genome.json is missing`));
  if (mounted.trustText === undefined)
    return fail(
      refuse('TRUST_FILE_MISSING', `${mounted.source}: trusted-keys.json is missing beside it`),
    );
  const parsed = parseGenome(mounted.genomeText);
  if (!parsed.ok) return fail(parsed.refusal);
  const trust = parseTrustFile(mounted.trustText, `${mounted.source}/trusted-keys.json`);
  if (!('keys' in trust)) return fail(trust);
  const problem = trust.problems[0];
  if (problem !== undefined) return fail(problem);
  if (trust.keys.length === 0)
    return fail(refuse('TRUST_KEYS_MISSING', `${mounted.source}/trusted-keys.json lists no key`));
  const verdict = verify(parsed.genome, trust.keys);
  if (!verdict.ok || mounted.expectedId === undefined || verdict.genomeId === mounted.expectedId)
    return verdict;
  return {
    ok: false,
    genomeId: verdict.genomeId,
    ...refuse(
      'GENOME_ID_MISMATCH',
      `${mounted.source}: the genome is ${verdict.genomeId}, the pod was admitted with ${displayValue(mounted.expectedId)}`,
    ),
  };
}

function fail(refusal: Refusal): Verdict {
  return { ok: false, ...refusal };
}
