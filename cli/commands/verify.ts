/**
 * genome verify <genome.json | -> [--trust <trust.json>]... [--trust-secret <secret.yaml>]...
 * [--policy <policies.yaml>]... [--namespace-labels k=v,...] [--now <RFC 3339>] [-o json]:
 * exits 0 only when the genome verifies. `-` reads the genome from standard input. With
 * --policy, the verdict is the cluster's: core/trust-policy.ts `judge` under those
 * GenomeTrustPolicies, for a namespace of those labels, at that time, with the keys of the
 * trust files and Secrets. Without --policy or any key, it checks the genome against its own
 * declared signers, as upstream Mathison does, and says that this is not a trust decision.
 */
import { refuse } from '../../core/codes.ts';
import { parseGenome, type Genome, type GenomeResult } from '../../core/genome.ts';
import { declaredKeys, type TrustedKey } from '../../core/trust.ts';
import { judge } from '../../core/trust-policy.ts';
import { examineGenome, verify, DEFAULT_POLICY, MAX_GENOME_FILE_BYTES } from '../../core/verify.ts';
import { outputFormat, type Command, type Invocation } from '../command.ts';
import { CliRefusal, formatRefusal, readTextFile } from '../io.ts';
import { parseVerifyArgs, type VerifyArgs } from '../verify-args.ts';
import { loadKeys, loadPolicies } from '../verify-load.ts';
import { withManifest } from '../verify-manifest.ts';
import { printText, unreadJson, verifyJson, type VerifyResult } from '../verify-report.ts';

/**
 * The signers the genome declares for itself, as keys to check it against (upstream's check,
 * not a trust decision); a declared key that is not usable refuses the genome.
 */
function declaredSigners(genome: Genome): TrustedKey[] {
  const declared = declaredKeys(genome.authority.signers);
  const first = declared.problems[0];
  if (first !== undefined)
    throw new CliRefusal(refuse('GENOME_INVALID_SCHEMA', first.message, first.source));
  return declared.keys;
}

/** The flat model (no --policy), as before policies: every key counts, the genome's threshold. */
function verifyFlat(genome: Genome, args: VerifyArgs): VerifyResult {
  const selfCheck = args.trustPaths.length === 0 && args.secretPaths.length === 0;
  const keys = selfCheck ? { keys: declaredSigners(genome), problems: [] } : loadKeys(args);
  const options = args.now === undefined ? DEFAULT_POLICY : { ...DEFAULT_POLICY, now: args.now };
  const verdict = verify(genome, keys.keys, options);
  return {
    genome,
    genomeId: verdict.genomeId,
    selfCheck,
    keys: keys.keys,
    counted: verdict.ok ? verdict.signers : [],
    ...(!verdict.ok && { refusal: verdict }),
    warnings: verdict.ok ? verdict.warnings : [],
    keyProblems: keys.problems,
  };
}

/** The cluster's verdict: the genome's own checks, then `judge` under the policies. */
function verifyUnderPolicies(parsed: GenomeResult & { ok: true }, args: VerifyArgs): VerifyResult {
  const { genome } = parsed;
  const policies = loadPolicies(args.policyPaths);
  const keys = loadKeys(args);
  const base = { genome, selfCheck: false, keys: keys.keys, keyProblems: keys.problems };
  const examined = examineGenome(parsed);
  // A genome whose own checks fail (a signature, its size): refused whatever the policies.
  if (!examined.ok)
    return { ...base, genomeId: examined.genomeId, counted: [], refusal: examined, warnings: [] };
  const context = {
    namespaceLabels: args.namespaceLabels,
    policies,
    now: args.now ?? Date.now(),
  };
  const judgement = judge(examined.facts, { ...context, keys: keys.keys });
  return {
    ...base,
    genomeId: examined.genomeId,
    counted: judgement.ok ? judgement.signers : [],
    ...(!judgement.ok && { refusal: judgement }),
    warnings: judgement.warnings,
    policy: { judgement, context },
  };
}

function verifyText(text: string, args: VerifyArgs): VerifyResult {
  const parsed = parseGenome(text);
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  return args.policyPaths.length > 0
    ? verifyUnderPolicies(parsed, args)
    : verifyFlat(parsed.genome, args);
}

function run(invocation: Invocation): number {
  const args = parseVerifyArgs(invocation);
  const json = outputFormat(invocation) === 'json';
  const text = readTextFile(args.genomePath, 'genome', MAX_GENOME_FILE_BYTES);
  let result: VerifyResult;
  try {
    result = withManifest(verifyText(text, args), args);
  } catch (err) {
    // -o json still prints one document for a refused genome (a file refusal stays exit 2).
    if (json && err instanceof CliRefusal && !err.io) process.stdout.write(unreadJson(err.refusal));
    throw err;
  }
  if (json) {
    process.stdout.write(verifyJson(result));
    if (result.refusal !== undefined) console.error(formatRefusal(result.refusal));
  } else printText(result);
  return result.refusal === undefined ? 0 : 1;
}

export const verifyCommand: Command = {
  name: 'verify',
  summary: 'verify a genome against trusted keys, or as the cluster would under trust policies',
  synopsis:
    '<genome.json | -> [--trust <trust.json>]... [--trust-secret <secret.yaml>]... [--policy <policies.yaml>]... [--namespace-labels k=v,k2=v2] [--now <RFC 3339>] [--manifest-root <dir> [--production]] [-o text|json]',
  description: [
    'Exits 0 only when the genome verifies. `-` reads the genome from standard input. The report',
    'goes to stdout; a refusal (its code, what it means and what to do) goes to stderr.',
    'Without --trust, --trust-secret or --policy the genome is checked against the signers it',
    "declares for itself (upstream Mathison's check): that is NOT a trust decision, and the",
    'signers are shown as "declared", never "trusted".',
    'With --manifest-root, a genome that verifies has its build_manifest checked too, as Mathison',
    'checks it at boot: each listed file under the directory by the SHA-256 of its raw bytes; a',
    'missing file, a changed one or a path that leaves the directory refuses (exit 1).',
  ],
  flags: [
    "      --trust <file>            a trust file (keygen's output, or a list of entries); repeatable",
    '      --trust-secret <file>     a trust Secret manifest (YAML or JSON), read as the cluster reads it; repeatable',
    '      --policy <file>           GenomeTrustPolicy manifests: judge as the cluster would; repeatable',
    '      --namespace-labels k=v,.. the labels of the namespace to judge for (with --policy)',
    '      --now <RFC 3339>          judge at this time (key windows, maxAge)',
    "      --manifest-root <dir>     then check the genome's build_manifest under this directory",
    '      --production              with --manifest-root: production rules (…/src/….ts checked as …/dist/….js, placeholder hashes refused)',
    '  -o, --output text|json        text (default) or one JSON document on stdout',
  ],
  options: {
    trust: { type: 'string', multiple: true, default: [] },
    'trust-secret': { type: 'string', multiple: true, default: [] },
    policy: { type: 'string', multiple: true, default: [] },
    'namespace-labels': { type: 'string', multiple: true, default: [] },
    now: { type: 'string', multiple: true, default: [] },
    'manifest-root': { type: 'string', multiple: true, default: [] },
    production: { type: 'boolean' },
    output: { type: 'string', short: 'o' },
  },
  run,
};
