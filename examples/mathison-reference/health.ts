/**
 * The reference Mathison container's boot state and the /health answer it gives, in the shape
 * upstream's server gives it (`curl /health | jq .governance`). Pure: main.ts does the I/O.
 */
import type { Refusal } from '../../core/codes.ts';
import { displayMessage, displayText } from '../../core/display.ts';
import type { Genome } from '../../core/genome.ts';

/** Where the container is: booting, running on a verified genome, or refused. */
export type BootState =
  | { phase: 'booting' }
  | {
      phase: 'ready';
      genome: Genome;
      genomeId: string;
      signers: string[];
      /** The build manifest was checked at boot (production, or MATHISON_VERIFY_MANIFEST=true). */
      manifestVerified: boolean;
    }
  | { phase: 'refused'; refusal: Refusal };

/** Upstream shows the first 16 hex characters of the genome id followed by `...`. */
export function shortDisplayId(genomeId: string): string {
  return `${genomeId.slice(0, 16)}...`;
}

/** The HTTP status and JSON body of /health: 200 when ready, else 503 with status "unhealthy". */
export function healthOf(state: BootState): { statusCode: number; body: Record<string, unknown> } {
  if (state.phase !== 'ready') {
    const failed = state.phase === 'refused';
    return {
      statusCode: 503,
      body: {
        status: 'unhealthy',
        bootStatus: failed ? 'failed' : 'booting',
        ...(failed && {
          error: { code: state.refusal.code, message: displayMessage(state.refusal.message) },
        }),
        governance: { genome: { initialized: false, verified: false } },
      },
    };
  }
  const { genome, genomeId, signers, manifestVerified } = state;
  return {
    statusCode: 200,
    body: {
      status: 'healthy',
      bootStatus: 'ready',
      governance: {
        genome: {
          name: displayText(genome.name),
          version: displayText(genome.version),
          genome_id: shortDisplayId(genomeId),
          initialized: true,
          verified: true,
          // As upstream: true when the mode checks the manifest (a ready container passed it).
          manifestVerified,
          manifestFiles: genome.build_manifest.files.length,
          genome_id_full: genomeId,
          verified_signers: signers,
        },
      },
    },
  };
}
