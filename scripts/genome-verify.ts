/**
 * genome-verify <genome.json | -> [--trust <trust.json>]...: exits 0 only when the genome
 * verifies against the trusted keys. `-` reads the genome from standard input. Without --trust
 * it checks the genome against its own declared signers, as upstream Mathison does, and says
 * that this is not a trust decision.
 */
import { refuse } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';
import { parseGenome, signaturesOf, type Genome } from '../core/genome.ts';
import {
  declaredKeys,
  MAX_TRUST_FILE_BYTES,
  MAX_TRUST_FILES,
  mergeTrustSets,
  parseTrustFile,
  type TrustedKey,
  type TrustSet,
} from '../core/trust.ts';
import { verify, MAX_GENOME_FILE_BYTES, type Verdict } from '../core/verify.ts';
import {
  CliRefusal,
  formatRefusal,
  readTextFile,
  runCli,
  STDIN_PATH,
  TRUST_READ,
  usage,
} from './cli-io.ts';

const USAGE = 'genome-verify.ts <genome.json | -> [--trust <trust.json>]...';

function parseArgs(args: string[]): { genomePath: string; trustPaths: string[] } {
  const trustPaths: string[] = [];
  let genomePath: string | undefined;
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] as string;
    if (arg === '--trust') {
      const path = args[i + 1];
      if (path === undefined) usage(USAGE);
      trustPaths.push(path);
      i += 1;
    } else if (arg.startsWith('--trust=')) trustPaths.push(arg.slice('--trust='.length));
    else if ((arg.startsWith('-') && arg !== STDIN_PATH) || genomePath !== undefined) usage(USAGE);
    else genomePath = arg;
  }
  if (genomePath === undefined) usage(USAGE);
  if (trustPaths.includes(STDIN_PATH))
    usage(`${USAGE}  (standard input, -, is for the genome only)`);
  return { genomePath, trustPaths };
}

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

function describeSigners(
  genome: Genome,
  verdict: Verdict,
  trusted: readonly TrustedKey[],
): string[] {
  const signed = new Set(signaturesOf(genome).map((s) => s.signer_key_id));
  const counted = new Set(verdict.ok ? verdict.signers : []);
  return genome.authority.signers.map((s) => {
    const state = [
      signed.has(s.key_id) ? 'signed' : 'did not sign',
      trusted.some((k) => k.keyId === s.key_id) ? 'trusted' : 'not trusted',
      counted.has(s.key_id) ? 'VERIFIED' : 'not counted',
    ];
    return `  ${displayText(s.key_id).padEnd(24)} ${state.join(', ')}`;
  });
}

function summary(genome: Genome, verdict: Verdict, trusted: readonly TrustedKey[]): string[] {
  const bySeverity = Object.entries(Object.groupBy(genome.invariants, (i) => i.severity)).map(
    ([severity, list]) => `${severity} ${list?.length ?? 0}`,
  );
  const show = (text: string) => displayText(text);
  return [
    `genome:       ${show(genome.name)} ${show(genome.version)}`,
    `genome id:    ${verdict.ok ? verdict.genomeId : (verdict.genomeId ?? '(unknown)')}`,
    `signers:      threshold ${genome.authority.threshold} of ${genome.authority.signers.length}`,
    ...describeSigners(genome, verdict, trusted),
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

runCli(() => {
  const { genomePath, trustPaths } = parseArgs(process.argv.slice(2));
  const parsed = parseGenome(readTextFile(genomePath, 'genome', MAX_GENOME_FILE_BYTES));
  if (!parsed.ok) throw new CliRefusal(parsed.refusal);
  const selfCheck = trustPaths.length === 0;
  const trusted = selfCheck ? declaredSigners(parsed.genome) : loadTrust(trustPaths);
  const verdict = verify(parsed.genome, trusted);
  // Every genome value in the summary is escaped and clipped on its own (displayText); the
  // lines are not escaped again, which would fold the summary's own column padding.
  console.log(summary(parsed.genome, verdict, trusted).join('\n'));
  if (selfCheck) {
    console.log(
      '\nNOTE: no --trust given, so the genome was checked against the signers it declares for itself, as upstream Mathison does.\n      This is NOT a trust decision: anyone can make a self-consistent genome. Pass --trust <trust.json>.',
    );
  }
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
});
