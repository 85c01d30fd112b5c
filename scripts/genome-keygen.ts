/**
 * genome-keygen [key-id]: the seed's entry point onto `genome keygen` (cli/commands/keygen.ts),
 * with the seed's exits. docs/cli.md documents the command.
 */
import { runSeed } from '../cli/command.ts';
import { keygen } from '../cli/commands/keygen.ts';

runSeed(keygen, 'genome-keygen.ts');
