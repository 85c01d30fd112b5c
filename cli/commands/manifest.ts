/**
 * genome manifest <genome.json> --name <name> [--namespace <ns>] [-o yaml|json]: prints a
 * Genome manifest for `kubectl apply -f -`, carrying the genome exactly as signed. In YAML,
 * every string is double-quoted with escapes for everything outside printable ASCII (see
 * core/kubectl-yaml.ts), so kubectl's YAML 1.1 reads back exactly what was signed.
 */
import { refuse } from '../../core/codes.ts';
import { displayText } from '../../core/display.ts';
import { parseGenome, signaturesOf } from '../../core/genome.ts';
import { toKubectlYaml } from '../../core/kubectl-yaml.ts';
import { genomeManifest, objectNameProblem } from '../../core/manifest.ts';
import { MAX_GENOME_FILE_BYTES } from '../../core/verify.ts';
import type { Command, Invocation } from '../command.ts';
import { CliRefusal, readTextFile, usage } from '../io.ts';
import { asciiJson } from '../json.ts';

/** The file, --name, --namespace and -o of the command line (a usage error when missing). */
function options({ values, positionals, usageLine }: Invocation) {
  const [file, ...extra] = positionals;
  const { name, namespace } = values;
  const output = values.output ?? 'yaml';
  if (file === undefined || extra.length > 0 || typeof name !== 'string') usage(usageLine);
  if (output !== 'yaml' && output !== 'json') usage(`${usageLine}  (-o takes yaml or json)`);
  return { file, name, namespace: typeof namespace === 'string' ? namespace : undefined, output };
}

function run(invocation: Invocation): number {
  const { file, name, namespace, output } = options(invocation);
  const problem = objectNameProblem(name);
  if (problem !== undefined) throw new Error(`--name ${displayText(name)}: ${problem}`);
  const parsed = parseGenome(readTextFile(file, 'genome', MAX_GENOME_FILE_BYTES));
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  if (signaturesOf(parsed.genome).length === 0) {
    const message = `${displayText(file)} has neither \`signature\` nor \`signatures\`; the cluster would refuse it`;
    throw new CliRefusal(refuse('GENOME_UNSIGNED', message, 'signature'));
  }
  const manifest = genomeManifest(parsed.genome, name, namespace);
  process.stdout.write(
    // asciiJson: the genome's text reads back the same, and reaches no terminal as it is.
    output === 'json' ? asciiJson(manifest) : toKubectlYaml(manifest),
  );
  return 0;
}

export const manifest: Command = {
  name: 'manifest',
  summary: 'print a Genome manifest for kubectl apply -f -',
  synopsis: '<genome.json> --name <name> [--namespace <ns>] [-o yaml|json]',
  description: [
    'Prints a Genome object carrying the signed genome exactly as signed, for kubectl apply -f -.',
    'In YAML every string is double-quoted with escapes, so kubectl reads back what was signed.',
    'An unsigned genome is refused (the cluster would refuse it).',
  ],
  flags: [
    '      --name <name>       the Genome object name (required)',
    '  -n, --namespace <ns>    metadata.namespace (else kubectl uses its current namespace)',
    '  -o, --output yaml|json  the manifest format (default yaml)',
  ],
  options: {
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    output: { type: 'string', short: 'o' },
  },
  run,
};
