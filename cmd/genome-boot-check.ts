/**
 * genome-boot-check: the init container of a Mathison pod (the product image runs it). Checks
 * the mounted genome (MATHISON_GENOME_PATH, default /etc/mathison/genome/genome.json) against
 * the trusted keys published beside it and, when GENOME_EXPECTED_ID is set (the webhook sets it
 * to the id the pod was admitted with), that it is that genome. Prints one JSON line; exits 0
 * only when every check passes, 1 on any doubt, so the application never starts on a file
 * that changed after admission.
 */
import { displayMessage } from '../core/display.ts';
import { DEFAULT_GENOME_PATH, readMountedGenome } from '../cli/read-mounted-genome.ts';

const path = process.env.MATHISON_GENOME_PATH || DEFAULT_GENOME_PATH;
const expectedId = process.env.GENOME_EXPECTED_ID || undefined;
const verdict = readMountedGenome(path, expectedId);
if (verdict.ok) {
  console.log(
    JSON.stringify({
      msg: 'genome verified',
      genomeId: verdict.genomeId,
      signers: verdict.signers,
    }),
  );
} else {
  console.error(
    JSON.stringify({
      msg: 'genome refused',
      code: verdict.code,
      reason: displayMessage(verdict.message),
      ...(verdict.genomeId !== undefined && { genomeId: verdict.genomeId }),
    }),
  );
  process.exitCode = 1;
}
