/**
 * genome-verify <genome.json | -> [--trust <trust.json>]... [--trust-secret <secret.yaml>]...
 * [--policy <policies.yaml>]... [--namespace-labels k=v,...] [--now <RFC 3339>]: exits 0 only
 * when the genome verifies. `-` reads the genome from standard input. With --policy, the
 * verdict is the cluster's: core/trust-policy.ts `judge` under those GenomeTrustPolicies, for a
 * namespace of those labels, at that time, with the keys of the trust files and Secrets.
 * Without --policy or any key, it checks the genome against its own declared signers, as
 * upstream Mathison does, and says that this is not a trust decision.
 */
import { parseArgs as parseNodeArgs } from 'node:util';
import { refuse } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';
import { parseGenome, signaturesOf, type Genome } from '../core/genome.ts';
import {
  declaredKeys,
  MAX_TRUST_FILE_BYTES,
  MAX_TRUST_FILES,
  mergeTrustSets,
  parseTrustFile,
  trustFromSecrets,
  type TrustedKey,
  type TrustSecret,
  type TrustSet,
} from '../core/trust.ts';
import { judge, type TrustJudgement, type TrustPolicy } from '../core/trust-policy.ts';
import { MAX_POLICY_FILE_BYTES, readTrustPolicies } from '../core/trust-policy-read.ts';
import { MAX_SECRET_FILE_BYTES, readTrustSecrets } from '../core/trust-secret-read.ts';
import {
  examineGenome,
  verify,
  DEFAULT_POLICY,
  MAX_GENOME_FILE_BYTES,
  type Examined,
  type Refused,
  type Verdict,
} from '../core/verify.ts';
import {
  CliRefusal,
  formatRefusal,
  POLICY_READ,
  readTextFile,
  runCli,
  STDIN_PATH,
  TRUST_READ,
  usage,
} from '../cli/io.ts';
import { policyReport, verifiedLine, type PolicyContext } from '../cli/policy-report.ts';

const USAGE =
  'genome-verify.ts <genome.json | -> [--trust <trust.json>]... [--trust-secret <secret.yaml>]... [--policy <policies.yaml>]... [--namespace-labels k=v,k2=v2] [--now <RFC 3339>]';

/** Most --policy files one command takes. */
export const MAX_POLICY_FILES = 8;

/** What the command line asks for. */
interface Args {
  genomePath: string;
  trustPaths: string[];
  secretPaths: string[];
  policyPaths: string[];
  namespaceLabels: Record<string, string>;
  now?: number;
}

function parseArgs(args: string[]): Args {
  let parsed;
  try {
    parsed = parseNodeArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        trust: { type: 'string', multiple: true, default: [] },
        'trust-secret': { type: 'string', multiple: true, default: [] },
        policy: { type: 'string', multiple: true, default: [] },
        'namespace-labels': { type: 'string', multiple: true, default: [] },
        now: { type: 'string', multiple: true, default: [] },
      },
    });
  } catch (err) {
    usage(`${USAGE}\n  (${displayMessage(err instanceof Error ? err.message : String(err))})`);
  }
  const { values, positionals } = parsed;
  const [genomePath, ...rest] = positionals;
  if (genomePath === undefined || rest.length > 0) usage(USAGE);
  const files = [...values.trust, ...values['trust-secret'], ...values.policy];
  if (files.some((p) => p === STDIN_PATH || p === '/dev/stdin'))
    usage(`${USAGE}  (standard input, -, is for the genome only)`);
  const labels = once(values['namespace-labels'], '--namespace-labels');
  const now = once(values.now, '--now');
  if (labels !== undefined && values.policy.length === 0)
    usage(`${USAGE}  (--namespace-labels is for --policy)`);
  return {
    genomePath,
    trustPaths: values.trust,
    secretPaths: values['trust-secret'],
    policyPaths: values.policy,
    namespaceLabels: labels === undefined ? {} : parseLabels(labels),
    ...(now !== undefined && { now: parseNow(now) }),
  };
}

/** The value of an option given at most once. */
function once(values: readonly string[], name: string): string | undefined {
  if (values.length > 1) usage(`${USAGE}  (${name} is given once)`);
  return values[0];
}

/** `k=v,k2=v2` as labels; an empty text is no label. */
function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text === '' ? [] : text.split(',')) {
    const at = pair.indexOf('=');
    const key = pair.slice(0, at);
    const value = pair.slice(at + 1);
    if (at < 1 || key.length > 317 || value.length > 63 || Object.hasOwn(labels, key))
      usage(
        `${USAGE}  (--namespace-labels takes distinct key=value pairs separated by commas, not ${displayText(pair, 64)})`,
      );
    labels[key] = value;
  }
  return labels;
}

/** RFC 3339 date-time with an offset, as the trust Secrets' windows are written. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

function parseNow(text: string): number {
  const ms = RFC3339.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(ms))
    usage(
      `${USAGE}  (--now takes an RFC 3339 time such as 2027-01-01T00:00:00Z, not ${displayText(text, 64)})`,
    );
  return ms;
}

/** The trust files' keys; any refused entry refuses the command (a file is yours to fix). */
function loadTrust(paths: string[]): TrustedKey[] {
  if (paths.length > MAX_TRUST_FILES) {
    const message = `${paths.length} trust files were given, over the limit of ${MAX_TRUST_FILES}`;
    throw new CliRefusal(refuse('TRUST_FILES_TOO_MANY', message));
  }
  const sets: TrustSet[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'trust file', MAX_TRUST_FILE_BYTES, TRUST_READ);
    const set = parseTrustFile(text, displayText(path));
    if (!('keys' in set)) throw new CliRefusal(set);
    sets.push(set);
  }
  // A key id that two files give different keys is refused, not silently overridden.
  const merged = mergeTrustSets(sets);
  const first = merged.problems[0];
  if (first !== undefined) throw new CliRefusal(first);
  return merged.keys;
}

/**
 * The keys of the trust Secrets, read as the cluster reads them (trustFromSecrets): an entry
 * the cluster would not use is not used here either, and is returned as a warning.
 */
function loadSecrets(paths: string[]): TrustSet {
  if (paths.length > MAX_TRUST_FILES) {
    const message = `${paths.length} trust Secret files were given, over the limit of ${MAX_TRUST_FILES}`;
    throw new CliRefusal(refuse('TRUST_FILES_TOO_MANY', message));
  }
  const secrets: TrustSecret[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'trust Secret file', MAX_SECRET_FILE_BYTES, TRUST_READ);
    const read = readTrustSecrets(text, displayText(path));
    if (!Array.isArray(read)) throw new CliRefusal(read);
    secrets.push(...read);
  }
  return trustFromSecrets(secrets);
}

/** The keys of the trust files and the trust Secrets together, and the Secrets' problems. */
function loadKeys(args: Args): TrustSet {
  const files = loadTrust(args.trustPaths);
  const secrets = loadSecrets(args.secretPaths);
  // A key id that a file and a Secret give different keys is refused, as between two files.
  const merged = mergeTrustSets([
    { keys: files, problems: [] },
    { ...secrets, problems: [] },
  ]);
  const first = merged.problems[0];
  if (first !== undefined) throw new CliRefusal(first);
  return { keys: merged.keys, problems: secrets.problems };
}

function loadPolicies(paths: string[]): TrustPolicy[] {
  if (paths.length > MAX_POLICY_FILES) {
    const message = `${paths.length} policy files were given, over the limit of ${MAX_POLICY_FILES}`;
    throw new CliRefusal(refuse('POLICY_INVALID', message));
  }
  const policies: TrustPolicy[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'policy file', MAX_POLICY_FILE_BYTES, POLICY_READ);
    const read = readTrustPolicies(text, displayText(path));
    if (!Array.isArray(read)) throw new CliRefusal(read);
    const twice = read.find((p) => policies.some((q) => q.name === p.name));
    if (twice !== undefined) {
      const message = `two policies named ${displayText(twice.name)} (the second in ${displayText(path)}); a name is one policy`;
      throw new CliRefusal(refuse('POLICY_INVALID', message, 'metadata.name'));
    }
    policies.push(...read);
  }
  return policies;
}

/** What the summary says of the verdict: the genome id, and the signers that counted. */
interface Outcome {
  genomeId?: string;
  counted: readonly string[];
}

function describeSigners(
  genome: Genome,
  outcome: Outcome,
  trusted: readonly TrustedKey[],
): string[] {
  const signed = new Set(signaturesOf(genome).map((s) => s.signer_key_id));
  const counted = new Set(outcome.counted);
  return genome.authority.signers.map((s) => {
    const state = [
      signed.has(s.key_id) ? 'signed' : 'did not sign',
      trusted.some((k) => k.keyId === s.key_id) ? 'trusted' : 'not trusted',
      counted.has(s.key_id) ? 'VERIFIED' : 'not counted',
    ];
    return `  ${displayText(s.key_id).padEnd(24)} ${state.join(', ')}`;
  });
}

function summary(genome: Genome, outcome: Outcome, trusted: readonly TrustedKey[]): string[] {
  const bySeverity = Object.entries(Object.groupBy(genome.invariants, (i) => i.severity)).map(
    ([severity, list]) => `${severity} ${list?.length ?? 0}`,
  );
  const show = (text: string) => displayText(text);
  return [
    `genome:       ${show(genome.name)} ${show(genome.version)}`,
    `genome id:    ${outcome.genomeId ?? '(unknown)'}`,
    `signers:      threshold ${genome.authority.threshold} of ${genome.authority.signers.length}`,
    ...describeSigners(genome, outcome, trusted),
    `invariants:   ${genome.invariants.length} (${bySeverity.join(', ') || 'none'})`,
    ...genome.invariants.map(
      (i) => `  ${show(i.id).padEnd(10)} ${i.severity.padEnd(8)} ${show(i.testable_claim)}`,
    ),
    `capabilities: ${genome.capabilities.length}`,
    ...genome.capabilities.map(
      (c) =>
        `  ${show(c.cap_id).padEnd(18)} risk ${c.risk_class}  allow [${actions(c.allow_actions)}]  deny [${actions(c.deny_actions)}]`,
    ),
  ];
}

/** A list of actions for one summary line: each escaped and clipped, the list clipped too. */
function actions(list: readonly string[]): string {
  return displayText(list.map((a) => displayText(a)).join(', '), 1024);
}

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

/** A trust Secret entry the cluster would not use either: said, and not used. */
function printKeyProblems(keys: TrustSet): void {
  for (const p of keys.problems)
    console.log(`WARNING: ${p.code}: ${displayMessage(p.message)} (not used, as in the cluster)`);
}

/** The flat model (no --policy), as before policies: every key counts, the genome's threshold. */
function verifyFlat(genome: Genome, args: Args): number {
  const selfCheck = args.trustPaths.length === 0 && args.secretPaths.length === 0;
  const keys = selfCheck ? { keys: declaredSigners(genome), problems: [] } : loadKeys(args);
  const trusted = keys.keys;
  const options = args.now === undefined ? DEFAULT_POLICY : { ...DEFAULT_POLICY, now: args.now };
  const verdict: Verdict = verify(genome, trusted, options);
  const outcome = { genomeId: verdict.genomeId, counted: verdict.ok ? verdict.signers : [] };
  // Every genome value in the summary is escaped and clipped on its own (displayText); the
  // lines are not escaped again, which would fold the summary's own column padding.
  console.log(summary(genome, outcome, trusted).join('\n'));
  if (selfCheck) {
    console.log(
      '\nNOTE: no --trust given, so the genome was checked against the signers it declares for itself, as upstream Mathison does.\n      This is NOT a trust decision: anyone can make a self-consistent genome. Pass --trust <trust.json>.',
    );
  }
  printKeyProblems(keys);
  for (const warning of verdict.ok ? verdict.warnings : [])
    console.log(`WARNING: ${displayMessage(warning)}`);
  if (!verdict.ok) {
    console.log(`\n${formatRefusal(verdict)}`);
    return 1;
  }
  const against = selfCheck
    ? 'its own declared signers (not trusted keys)'
    : `${trusted.length} trusted key(s)`;
  console.log(`\nVERIFIED against ${against}: ${verdict.signers.join(', ')}`);
  return 0;
}

/** A genome whose own checks fail (a signature, its size): refused whatever the policies. */
function printOwnRefusal(genome: Genome, refused: Refused, keys: readonly TrustedKey[]): number {
  console.log(summary(genome, { genomeId: refused.genomeId, counted: [] }, keys).join('\n'));
  console.log(`\n${formatRefusal(refused)}`);
  return 1;
}

function printJudgement(
  examined: Examined,
  judgement: TrustJudgement,
  context: PolicyContext,
  keys: TrustSet,
): number {
  const counted = judgement.ok ? judgement.signers : [];
  const outcome = { genomeId: examined.genomeId, counted };
  console.log(summary(examined.genome, outcome, keys.keys).join('\n'));
  console.log(policyReport(judgement, context).join('\n'));
  printKeyProblems(keys);
  for (const warning of judgement.warnings) console.log(`WARNING: ${displayMessage(warning)}`);
  if (!judgement.ok) {
    console.log(`\n${formatRefusal(judgement)}`);
    return 1;
  }
  console.log(`\n${verifiedLine(judgement)}`);
  return 0;
}

/** The cluster's verdict: the genome's own checks, then `judge` under the policies. */
function verifyUnderPolicies(text: string, args: Args): number {
  const parsed = parseGenome(text);
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  const policies = loadPolicies(args.policyPaths);
  const keys = loadKeys(args);
  const examined = examineGenome(parsed);
  if (!examined.ok) return printOwnRefusal(parsed.genome, examined, keys.keys);
  const context: PolicyContext = {
    namespaceLabels: args.namespaceLabels,
    policies,
    now: args.now ?? Date.now(),
  };
  const judgement = judge(examined.facts, { ...context, keys: keys.keys });
  return printJudgement(examined, judgement, context, keys);
}

runCli(() => {
  const args = parseArgs(process.argv.slice(2));
  const text = readTextFile(args.genomePath, 'genome', MAX_GENOME_FILE_BYTES);
  if (args.policyPaths.length > 0) return verifyUnderPolicies(text, args);
  const parsed = parseGenome(text);
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  return verifyFlat(parsed.genome, args);
});
