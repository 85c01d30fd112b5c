/**
 * `genome`: the one command-line program (cmd/genome.ts, bin/genome, bin/kubectl-genome).
 * Dispatches to a subcommand, prints help on stdout (exit 0), and maps what a command throws to
 * the documented exit codes: 0 verified or ok, 1 refused (a verdict of no), 2 usage or I/O (a
 * command line that does not parse, a file that cannot be read, a cluster that cannot be
 * reached). Refusals and errors go to stderr, never with a stack trace; the report to stdout.
 */
import { displayMessage } from '../core/display.ts';
import { PRODUCT_VERSION } from '../core/version.ts';
import { commandHelp, parseCommand, type Command } from './command.ts';
import { buildManifestCommand } from './commands/build-manifest.ts';
import { checkCommand } from './commands/check.ts';
import { keygen } from './commands/keygen.ts';
import { manifest } from './commands/manifest.ts';
import { signCommand } from './commands/sign.ts';
import { statusCommand } from './commands/status.ts';
import { verifyCommand } from './commands/verify.ts';
import { CliRefusal, formatRefusal, UsageError } from './io.ts';

export const COMMANDS: readonly Command[] = [
  keygen,
  signCommand,
  verifyCommand,
  buildManifestCommand,
  manifest,
  statusCommand,
  checkCommand,
];

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE_OR_IO = 2;

/** The overview: every command and the exit codes. */
export function overview(program: string): string {
  return [
    `usage: ${program} <command> [flags]`,
    '',
    'Signs and verifies Mathison genomes, and explains what the genome-operator made of them.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(14)} ${c.summary}`),
    '  help           help for a command (or --help after it)',
    '  version        the version (or --version)',
    '',
    'Exit codes: 0 verified / ok, 1 refused (a verdict of no), 2 usage or I/O error',
    '(a command line that does not parse, a file that cannot be read, a cluster that cannot be reached).',
    `Run '${program} <command> --help' for a command's flags; '${program} --version' for the version.`,
    'Docs: docs/cli.md in the genome-operator repository.',
    '',
  ].join('\n');
}

/** What a thrown error prints (stderr) and the exit code it means. */
function failure(err: unknown, program: string): number {
  if (err instanceof UsageError) {
    process.stderr.write(`${err.message}\nRun '${program} --help' for help.\n`);
    return EXIT_USAGE_OR_IO;
  }
  if (err instanceof CliRefusal) {
    process.stderr.write(`${formatRefusal(err.refusal)}\n`);
    return err.io ? EXIT_USAGE_OR_IO : EXIT_REFUSED;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`error: ${displayMessage(message)}\n`);
  return EXIT_USAGE_OR_IO;
}

function helpFor(name: string | undefined, program: string): number {
  if (name === undefined) {
    process.stdout.write(overview(program));
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) return unknownCommand(name, program);
  process.stdout.write(commandHelp(command, `${program} ${command.name}`));
  return EXIT_OK;
}

function unknownCommand(name: string, program: string): number {
  const names = COMMANDS.map((c) => c.name).join(', ');
  process.stderr.write(
    `error: unknown command ${JSON.stringify(displayMessage(name))} (one of ${names})\nusage: ${program} <command> [flags]; run '${program} --help'\n`,
  );
  return EXIT_USAGE_OR_IO;
}

async function dispatch(argv: readonly string[], program: string): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined) {
    process.stderr.write(overview(program));
    return EXIT_USAGE_OR_IO;
  }
  if (name === '--help' || name === '-h') return helpFor(undefined, program);
  if (name === '--version' || name === 'version') {
    process.stdout.write(`genome ${PRODUCT_VERSION}\n`);
    return EXIT_OK;
  }
  if (name === 'help') {
    if (args.length > 1) return unknownCommand(args.join(' '), program);
    return helpFor(args[0], program);
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) return unknownCommand(name, program);
  const invoked = `${program} ${command.name}`;
  const invocation = parseCommand(command, args, invoked);
  if (invocation.help) {
    process.stdout.write(commandHelp(command, invoked));
    return EXIT_OK;
  }
  return command.run(invocation);
}

/** Runs `genome` with these arguments; resolves to the exit code (never rejects). */
export async function runGenome(argv: readonly string[], program = 'genome'): Promise<number> {
  try {
    return await dispatch(argv, program);
  } catch (err) {
    return failure(err, program);
  }
}
