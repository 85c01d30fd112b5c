/**
 * A reference Mathison container: at boot it loads MATHISON_GENOME_PATH with upstream's
 * loader rule (core/mathison-model.ts) and checks it against the trusted keys published beside
 * it (core/mounted-genome.ts, the init container's check); in production (MATHISON_ENV=production
 * or MATHISON_VERIFY_MANIFEST=true) it then checks the genome's build manifest against the files
 * under MATHISON_REPO_ROOT (boot-manifest.ts). It serves /health on PORT (3000): 503 while
 * booting, 200 once the genome is verified. On any refusal it logs the code (and the manifest
 * path) as one JSON line on stderr, answers 503 for MATHISON_REFUSED_LINGER_MS (2000) and exits
 * 1: it never runs without a verified genome.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { refuse } from '../../core/codes.ts';
import { displayMessage, displayText } from '../../core/display.ts';
import { mathisonLoads } from '../../core/mathison-model.ts';
import { DEFAULT_GENOME_PATH, readMountedGenome } from '../../cli/read-mounted-genome.ts';
import { checkManifestAtBoot } from './boot-manifest.ts';
import { healthOf, type BootState } from './health.ts';

const genomePath = process.env.MATHISON_GENOME_PATH || DEFAULT_GENOME_PATH;
const port = Number(process.env.PORT || 3000);
const linger = Number(process.env.MATHISON_REFUSED_LINGER_MS ?? 2000);
let state: BootState = { phase: 'booting' };
/** The build manifest path a refused boot names (logged beside the code). */
let refusedPath: string | undefined;

const server = createServer((req, res) => {
  const { statusCode, body } =
    req.url === '/health' ? healthOf(state) : { statusCode: 404, body: { error: 'not found' } };
  res.writeHead(statusCode, { 'content-type': 'application/json' }).end(JSON.stringify(body));
});

/** Both rules must hold: upstream's loader boots with the file, and the trusted keys verify it. */
async function boot(): Promise<BootState> {
  const verdict = readMountedGenome(genomePath, process.env.GENOME_EXPECTED_ID || undefined);
  if (!verdict.ok) return { phase: 'refused', refusal: verdict };
  const upstream = await mathisonLoads(readFileSync(genomePath, 'utf8'));
  if (!upstream.ok || upstream.genomeId !== verdict.genomeId) {
    const why = upstream.ok
      ? `it computes the id ${upstream.genomeId}`
      : upstream.errors.join('; ');
    const message = `upstream's loader rule refuses the genome: ${why}`;
    return { phase: 'refused', refusal: refuse('GENOME_VERIFY_ERROR', message) };
  }
  const manifest = checkManifestAtBoot(verdict.genome, process.env, process.cwd());
  if (!manifest.ok) {
    refusedPath = manifest.path;
    return { phase: 'refused', refusal: manifest.refusal };
  }
  return {
    phase: 'ready',
    genome: verdict.genome,
    genomeId: verdict.genomeId,
    signers: verdict.signers,
    manifestVerified: manifest.verified,
  };
}

/** The one JSON line a refused boot writes on stderr: the code, the reason and any path. */
function refusalLine(code: string, message: string): string {
  return JSON.stringify({
    msg: 'refusing to start',
    code,
    reason: displayMessage(message),
    ...(refusedPath !== undefined && { path: displayText(refusedPath) }),
  });
}

server.listen(port, () => {
  void boot().then((result) => {
    state = result;
    if (result.phase === 'ready') {
      console.log(
        JSON.stringify({
          msg: 'mathison ready',
          port: (server.address() as AddressInfo).port,
          genomeId: result.genomeId,
          signers: result.signers,
          manifestVerified: result.manifestVerified,
          manifestFiles: result.genome.build_manifest.files.length,
        }),
      );
      return;
    }
    if (result.phase !== 'refused') return;
    console.error(refusalLine(result.refusal.code, result.refusal.message));
    setTimeout(() => {
      server.close();
      process.exit(1);
    }, linger).unref();
  });
});
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.on(signal, () => server.close(() => process.exit(0)));
