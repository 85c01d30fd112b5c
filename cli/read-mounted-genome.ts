import { dirname, join } from 'node:path';
import { TRUSTED_KEYS_CONFIGMAP_KEY } from '../core/api.ts';
import { displayText } from '../core/display.ts';
import { checkMountedGenome } from '../core/mounted-genome.ts';
import { MAX_TRUST_FILE_BYTES } from '../core/trust.ts';
import { MAX_GENOME_FILE_BYTES, type Verdict } from '../core/verify.ts';
import { CliRefusal, readTextFile, TRUST_READ } from './io.ts';

/** Where a pod finds its genome when MATHISON_GENOME_PATH is not set (what the webhook mounts). */
export const DEFAULT_GENOME_PATH = '/etc/mathison/genome/genome.json';

/**
 * Reads the genome at `genomePath` and the trusted keys published beside it
 * (trusted-keys.json in the same directory, as the operator's ConfigMap holds them) with the
 * CLI's bounded reads, and checks them with core/mounted-genome.ts. Never throws.
 */
export function readMountedGenome(genomePath: string, expectedId?: string): Verdict {
  const dir = dirname(genomePath);
  try {
    const genomeText = readTextFile(genomePath, 'genome', MAX_GENOME_FILE_BYTES);
    const trustPath = join(dir, TRUSTED_KEYS_CONFIGMAP_KEY);
    const trustText = readTextFile(trustPath, 'trust file', MAX_TRUST_FILE_BYTES, TRUST_READ);
    return checkMountedGenome({ genomeText, trustText, expectedId, source: displayText(dir) });
  } catch (err) {
    if (err instanceof CliRefusal) return { ok: false, ...err.refusal };
    return { ok: false, code: 'GENOME_VERIFY_ERROR', message: String(err) };
  }
}
