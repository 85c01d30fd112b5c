/**
 * genome-build-manifest <genome.json | genome-dir> [out.json] --root <dir> [--production]: the
 * seed's entry point onto `genome build-manifest` (cli/commands/build-manifest.ts), named as
 * upstream Mathison's script. docs/cli.md documents the command.
 */
import { runSeed } from '../cli/command.ts';
import { buildManifestCommand } from '../cli/commands/build-manifest.ts';

runSeed(buildManifestCommand, 'genome-build-manifest.ts');
