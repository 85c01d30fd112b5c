/**
 * genome: the one command-line program (keygen, sign, verify, manifest, status, check). Its
 * code is in cli/ (cli/main.ts); docs/cli.md documents it. Run as `genome`, `npx genome`
 * (bin/genome), `kubectl genome` (bin/kubectl-genome) or bundled in the image (genome.mjs).
 * GENOME_CLI_NAME names the program in usage lines (bin/kubectl-genome sets it).
 */
import { runGenome } from '../cli/main.ts';

const program = process.env.GENOME_CLI_NAME === 'kubectl genome' ? 'kubectl genome' : 'genome';
process.exitCode = await runGenome(process.argv.slice(2), program);
