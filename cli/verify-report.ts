/**
 * What `genome verify` found, and its two renderings: the text report (stdout; the refusal on
 * stderr) and one JSON document (-o json). Every value from a genome or a file is escaped in
 * the text (core/display.ts) and written as \u escapes outside printable ASCII in the JSON.
 */
import { REFUSAL_CODES, type Refusal } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';
import { signaturesOf, type Genome } from '../core/genome.ts';
import type { TrustedKey, TrustProblem } from '../core/trust.ts';
import type { TrustJudgement } from '../core/trust-policy.ts';
import { formatRefusal } from './io.ts';
import { asciiJson } from './json.ts';
import { policyReport, verifiedLine, type PolicyContext } from './policy-report.ts';
import { manifestJson, manifestLine, type ManifestReport } from './verify-manifest.ts';

/** The outcome of one verify run over a parsed genome. */
export interface VerifyResult {
  genome: Genome;
  genomeId?: string;
  /** No --trust, --trust-secret or --policy: checked against its own declared signers. */
  selfCheck: boolean;
  /** The keys it was checked against (the declared ones in a self-check). */
  keys: readonly TrustedKey[];
  /** The signers that counted (empty when refused). */
  counted: readonly string[];
  refusal?: Refusal;
  warnings: readonly string[];
  keyProblems: readonly TrustProblem[];
  policy?: { judgement: TrustJudgement; context: PolicyContext };
  /** --manifest-root: the build manifest checked after the verdict (cli/verify-manifest.ts). */
  manifest?: ManifestReport;
}

/** What a signer is, for the summary: its own claim in a self-check, never "trusted". */
function trustOf(result: VerifyResult, keyId: string): 'trusted' | 'not trusted' | 'declared' {
  if (result.selfCheck) return 'declared';
  return result.keys.some((k) => k.keyId === keyId) ? 'trusted' : 'not trusted';
}

function signerRows(result: VerifyResult) {
  const signed = new Set(signaturesOf(result.genome).map((s) => s.signer_key_id));
  const counted = new Set(result.counted);
  return result.genome.authority.signers.map((s) => ({
    keyId: s.key_id,
    signed: signed.has(s.key_id),
    trust: trustOf(result, s.key_id),
    counted: counted.has(s.key_id),
  }));
}

function signerLines(result: VerifyResult): string[] {
  return signerRows(result).map((row) => {
    const state = [
      row.signed ? 'signed' : 'did not sign',
      row.trust,
      row.counted ? 'VERIFIED' : 'not counted',
    ];
    return `  ${displayText(row.keyId).padEnd(24)} ${state.join(', ')}`;
  });
}

/** A list of actions for one summary line: each escaped and clipped, the list clipped too. */
function actions(list: readonly string[]): string {
  return displayText(list.map((a) => displayText(a)).join(', '), 1024);
}

/** The summary's lines; every genome value is escaped and clipped on its own. */
export function summary(result: VerifyResult): string[] {
  const { genome } = result;
  const bySeverity = Object.entries(Object.groupBy(genome.invariants, (i) => i.severity)).map(
    ([severity, list]) => `${severity} ${list?.length ?? 0}`,
  );
  const show = (text: string) => displayText(text);
  return [
    `genome:       ${show(genome.name)} ${show(genome.version)}`,
    `genome id:    ${result.genomeId ?? '(unknown)'}`,
    `signers:      threshold ${genome.authority.threshold} of ${genome.authority.signers.length}`,
    ...signerLines(result),
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

const SELF_CHECK_NOTE =
  '\nNOTE: no --trust given, so the genome was checked against the signers it declares for itself, as upstream Mathison does.\n      This is NOT a trust decision: anyone can make a self-consistent genome. Pass --trust <trust.json>.';

function verdictLine(result: VerifyResult): string {
  const judgement = result.policy?.judgement;
  if (judgement?.ok) return verifiedLine(judgement);
  const against = result.selfCheck
    ? 'its own declared signers (not trusted keys)'
    : `${result.keys.length} trusted key(s)`;
  return `VERIFIED against ${against}: ${result.counted.join(', ')}`;
}

/** The text report: the summary and warnings on stdout, a refusal on stderr. */
export function printText(result: VerifyResult): void {
  const lines = summary(result);
  if (result.policy !== undefined)
    lines.push(...policyReport(result.policy.judgement, result.policy.context));
  if (result.selfCheck) lines.push(SELF_CHECK_NOTE);
  for (const p of result.keyProblems)
    lines.push(`WARNING: ${p.code}: ${displayMessage(p.message)} (not used, as in the cluster)`);
  for (const warning of result.warnings) lines.push(`WARNING: ${displayMessage(warning)}`);
  if (result.manifest !== undefined) lines.push(manifestLine(result.manifest));
  if (result.refusal === undefined) lines.push('', verdictLine(result));
  console.log(lines.join('\n'));
  if (result.refusal !== undefined) console.error(formatRefusal(result.refusal));
}

/** A refusal as data: the code, message and field, what it means and what to do. */
export function refusalJson(refusal: Refusal) {
  const info = REFUSAL_CODES[refusal.code];
  return {
    code: refusal.code,
    message: refusal.message,
    ...(refusal.field !== undefined && { field: refusal.field }),
    meaning: info.meaning,
    action: info.action,
  };
}

function policiesJson(result: VerifyResult) {
  if (result.policy === undefined) return undefined;
  const { judgement, context } = result.policy;
  return {
    namespaceLabels: context.namespaceLabels,
    now: new Date(context.now).toISOString(),
    considered: context.policies.length,
    results: judgement.policies.map((p) => ({
      policy: p.policy,
      mode: p.mode,
      held: p.held,
      ...(p.code !== undefined && { code: p.code }),
      message: p.message,
      signers: p.signers.map((s) => ({ keyId: s.keyId, counted: s.counted, state: s.state })),
    })),
  };
}

/** The -o json document (docs/cli.md): the same facts as the text report, as data. */
export function verifyJson(result: VerifyResult): string {
  const { genome } = result;
  const policies = policiesJson(result);
  return asciiJson({
    verified: result.refusal === undefined,
    trustDecision: !result.selfCheck,
    genome: { name: genome.name, version: genome.version, id: result.genomeId ?? null },
    threshold: genome.authority.threshold,
    signers: signerRows(result),
    counted: result.counted,
    invariants: genome.invariants.map((i) => ({
      id: i.id,
      severity: i.severity,
      testable_claim: i.testable_claim,
    })),
    capabilities: genome.capabilities.map((c) => ({
      cap_id: c.cap_id,
      risk_class: c.risk_class,
      allow_actions: c.allow_actions,
      deny_actions: c.deny_actions,
    })),
    ...(policies !== undefined && { policies }),
    ...(result.manifest !== undefined && { manifest: manifestJson(result.manifest) }),
    warnings: [...result.keyProblems.map((p) => `${p.code}: ${p.message}`), ...result.warnings],
    refusal: result.refusal === undefined ? null : refusalJson(result.refusal),
  });
}

/** The document of a genome refused before it could be read as one (it does not parse). */
export function unreadJson(refusal: Refusal): string {
  return asciiJson({ verified: false, genome: null, refusal: refusalJson(refusal) });
}
