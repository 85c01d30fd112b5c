/**
 * genome-manifest <genome.json> --name <name> [--namespace <ns>] [-o yaml|json]: prints a
 * Genome manifest for `kubectl apply -f -`, carrying the genome exactly as signed. In YAML,
 * every string is double-quoted with escapes for everything outside printable ASCII (see
 * core/kubectl-yaml.ts), so kubectl's YAML 1.1 reads back exactly what was signed.
 */
import { refuse } from '../core/codes.ts';
import { parseGenome, signaturesOf } from '../core/genome.ts';
import { toKubectlYaml } from '../core/kubectl-yaml.ts';
import { genomeManifest, objectNameProblem } from '../core/manifest.ts';
import { MAX_GENOME_FILE_BYTES } from '../core/verify.ts';
import { CliRefusal, readTextFile, runCli, usage } from '../cli/io.ts';

const USAGE = 'genome-manifest.ts <genome.json> --name <name> [--namespace <ns>] [-o yaml|json]';

function parseArgs(args: string[]): Map<string, string> {
  const options = new Map<string, string>();
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    const flag = {
      '--name': 'name',
      '--namespace': 'namespace',
      '-n': 'namespace',
      '-o': 'output',
      '--output': 'output',
    }[arg];
    if (flag !== undefined) {
      const value = args[i + 1];
      if (value === undefined) usage(USAGE);
      options.set(flag, value);
      i += 1;
    } else if (arg.startsWith('-') || options.has('file')) usage(USAGE);
    else options.set('file', arg);
  }
  return options;
}

runCli(() => {
  const options = parseArgs(process.argv.slice(2));
  const file = options.get('file');
  const name = options.get('name');
  const output = options.get('output') ?? 'yaml';
  if (file === undefined || name === undefined || !['yaml', 'json'].includes(output)) usage(USAGE);
  const problem = objectNameProblem(name);
  if (problem !== undefined) throw new Error(`--name ${name}: ${problem}`);
  const parsed = parseGenome(readTextFile(file, 'genome', MAX_GENOME_FILE_BYTES));
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  if (signaturesOf(parsed.genome).length === 0) {
    const message = `${file} has neither \`signature\` nor \`signatures\`; the cluster would refuse it`;
    throw new CliRefusal(refuse('GENOME_UNSIGNED', message, 'signature'));
  }
  const manifest = genomeManifest(parsed.genome, name, options.get('namespace'));
  process.stdout.write(
    output === 'json' ? `${JSON.stringify(manifest, null, 2)}\n` : toKubectlYaml(manifest),
  );
  return 0;
});
