/**
 * One subcommand of the `genome` CLI: its name, help, flags (parsed by Node's util.parseArgs,
 * strict) and body. The same command runs under `genome`, `kubectl genome` and the seed's
 * scripts/genome-*.ts entry points; only the program name in its usage differs.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { displayMessage } from '../core/display.ts';
import { runCli, usage } from './io.ts';

/** The parsed flags (util.parseArgs values). */
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A parsed command line, and the usage line to refuse it with. */
export interface Invocation {
  values: Values;
  positionals: string[];
  /** `genome verify <genome.json | -> ...`, as this program is called. */
  usageLine: string;
}

export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The arguments after the command's name, for the usage line. */
  synopsis: string;
  /** What the command does, for --help. */
  description: string[];
  /** Each flag, one line, for --help. */
  flags: string[];
  options: ParseArgsOptionsConfig;
  run(invocation: Invocation): number | Promise<number>;
}

/** The -o/--output flag of the commands that print a report. */
export const OUTPUT_OPTION: ParseArgsOptionsConfig = {
  output: { type: 'string', short: 'o' },
};

/**
 * The help of a command, as `genome <cmd> --help` prints it. `invoked` is how the command is
 * called: `genome verify`, `kubectl genome verify`, or a seed script's name.
 */
export function commandHelp(command: Command, invoked: string): string {
  return [
    `usage: ${invoked} ${command.synopsis}`,
    '',
    ...command.description,
    ...(command.flags.length === 0 ? [] : ['', 'Flags:', ...command.flags]),
    '  -h, --help                    this help',
    '',
  ].join('\n');
}

/** Parses a command line (strict: an unknown flag or a missing value is a usage error). */
export function parseCommand(
  command: Command,
  args: string[],
  invoked: string,
): Invocation & { help: boolean } {
  const usageLine = `${invoked} ${command.synopsis}`;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    usage(`${usageLine}\n  (${displayMessage(err instanceof Error ? err.message : String(err))})`);
  }
  const { help, ...values } = parsed.values;
  return { values, positionals: parsed.positionals, usageLine, help: help === true };
}

/** The value of -o: `text` (the default) or `json`; anything else is a usage error. */
export function outputFormat(invocation: Invocation): 'text' | 'json' {
  const output = invocation.values.output ?? 'text';
  if (output !== 'text' && output !== 'json')
    usage(`${invocation.usageLine}  (-o takes text or json)`);
  return output;
}

/**
 * A seed entry point (scripts/genome-verify.ts ...): the same command, named as before, with
 * the seed's exits (0, or 1 for any refusal or error, as runCli does).
 */
export function runSeed(command: Command, program: string): void {
  runCli(() => {
    const invocation = parseCommand(command, process.argv.slice(2), program);
    if (invocation.help) {
      process.stdout.write(commandHelp(command, program));
      return 0;
    }
    return command.run(invocation);
  });
}
