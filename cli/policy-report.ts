/**
 * genome-verify's report of a judgement under trust policies (--policy): the context it was
 * judged in, each matching policy held or not (code and reason) with each signer's state, the
 * warnings. Every value from a file or a genome is escaped (core/display.ts).
 */
import { displayMessage, displayText } from '../core/display.ts';
import type { PolicyResult, TrustJudgement, TrustPolicy } from '../core/trust-policy.ts';

/** What the judgement was made from, as the report shows it. */
export interface PolicyContext {
  namespaceLabels: Readonly<Record<string, string>>;
  policies: readonly TrustPolicy[];
  now: number;
}

/** The labels as `k=v,k2=v2` (escaped), or `(none)`. */
export function formatLabels(labels: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${displayText(k)}=${displayText(v)}`);
  return pairs.length === 0 ? '(none)' : pairs.join(',');
}

function policyLines(result: PolicyResult): string[] {
  const name = displayText(result.policy);
  const head = result.held
    ? `  policy ${name} (${result.mode}): HELD`
    : `  policy ${name} (${result.mode}): NOT HELD ${result.code ?? ''}`.trimEnd();
  return [
    head,
    `    ${displayMessage(result.message)}`,
    ...result.signers.map((s) => `    ${displayText(s.keyId).padEnd(24)} ${s.state}`),
  ];
}

/** The report's lines for the policies: context, then each matching policy. */
export function policyReport(judgement: TrustJudgement, context: PolicyContext): string[] {
  const matching = judgement.policies.length;
  return [
    '',
    `namespace labels: ${formatLabels(context.namespaceLabels)}`,
    `now:              ${new Date(context.now).toISOString()}`,
    `policies:         ${matching} of ${context.policies.length} match`,
    ...judgement.policies.flatMap(policyLines),
  ];
}

/** The verdict line of a verified genome: the policies that decided and the counted signers. */
export function verifiedLine(judgement: TrustJudgement & { ok: true }): string {
  const deciding = judgement.policies
    .filter((p) => p.mode !== 'Audit' && p.held)
    .map((p) => displayText(p.policy));
  const signers = judgement.signers.map((s) => displayText(s)).join(', ');
  return `VERIFIED under ${deciding.length} polic${deciding.length === 1 ? 'y' : 'ies'} (${deciding.join(', ') || 'none held; Warn only'}): ${signers || '(no signer counted)'}`;
}
