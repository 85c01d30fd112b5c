/**
 * genome-sign <in.json> [out.json] [key-id]: the seed's entry point onto `genome sign`
 * (cli/commands/sign.ts), with the seed's exits. docs/cli.md documents the command.
 */
import { runSeed } from '../cli/command.ts';
import { signCommand } from '../cli/commands/sign.ts';

runSeed(signCommand, 'genome-sign.ts');
