/**
 * genome-boot-check: the init container of a Mathison pod (the product image runs it). Checks
 * the mounted genome (MATHISON_GENOME_PATH, default /etc/mathison/genome/genome.json) against
 * the trusted keys published beside it and, when GENOME_EXPECTED_ID is set (the webhook sets it
 * to the id the pod was admitted with), that it is that genome. Then, for each application
 * container in production mode (GENOME_MANIFEST_CHECKS, set by the webhook), it verifies the
 * genome's build manifest against that container's image, mounted read-only (cli/boot-manifest.ts).
 * Prints one JSON line; exits 0 only when every check passes, 1 on any doubt, so the
 * application never starts on a file that changed after admission or on an image that is not
 * the one the genome pins. A refusal is also written to GENOME_TERMINATION_MESSAGE_PATH when
 * set (the pod's termination message).
 */
import { displayMessage } from '../core/display.ts';
import {
  checkManifests,
  parseManifestChecks,
  writeTerminationMessage,
} from '../cli/boot-manifest.ts';
import { DEFAULT_GENOME_PATH, readMountedGenome } from '../cli/read-mounted-genome.ts';

const path = process.env.MATHISON_GENOME_PATH || DEFAULT_GENOME_PATH;
const expectedId = process.env.GENOME_EXPECTED_ID || undefined;
const terminationPath = process.env.GENOME_TERMINATION_MESSAGE_PATH || undefined;

function refused(line: Record<string, unknown>): void {
  const text = JSON.stringify(line);
  console.error(text);
  writeTerminationMessage(terminationPath, text);
  process.exitCode = 1;
}

const verdict = readMountedGenome(path, expectedId);
const checks = parseManifestChecks(process.env.GENOME_MANIFEST_CHECKS);
if (!verdict.ok) {
  refused({
    msg: 'genome refused',
    code: verdict.code,
    reason: displayMessage(verdict.message),
    ...(verdict.genomeId !== undefined && { genomeId: verdict.genomeId }),
  });
} else if ('code' in checks) {
  refused({ msg: 'genome refused', code: checks.code, reason: displayMessage(checks.message) });
} else {
  const manifest = checkManifests(verdict.genome, checks);
  if (manifest.ok)
    console.log(
      JSON.stringify({
        msg: 'genome verified',
        genomeId: verdict.genomeId,
        signers: verdict.signers,
        ...(checks.length > 0 && { manifest: manifest.checked }),
      }),
    );
  else refused({ ...manifest.line, genomeId: verdict.genomeId });
}
