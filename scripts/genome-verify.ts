/**
 * genome-verify <genome.json | -> [--trust ...] [--policy ...] ...: the seed's entry point onto
 * `genome verify` (cli/commands/verify.ts), with the seed's exits (0 verified, 1 otherwise).
 * docs/cli.md documents the command.
 */
import { runSeed } from '../cli/command.ts';
import { verifyCommand } from '../cli/commands/verify.ts';

runSeed(verifyCommand, 'genome-verify.ts');
