/**
 * genome-manifest <genome.json> --name <name> [--namespace <ns>] [-o yaml|json]: the seed's
 * entry point onto `genome manifest` (cli/commands/manifest.ts), with the seed's exits.
 * docs/cli.md documents the command.
 */
import { manifest } from '../cli/commands/manifest.ts';
import { runSeed } from '../cli/command.ts';

runSeed(manifest, 'genome-manifest.ts');
