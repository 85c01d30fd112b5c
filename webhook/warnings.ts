/**
 * The warnings of a Genome admission, as kubectl prints them: one line each, "Warning: " and
 * the text. Kubernetes asks for warnings short enough to read on a terminal (120 characters)
 * and few; a cluster may hold many Warn policies, so the answer names a few of those that do
 * not hold and counts the rest (the Genome's status lists every policy and why).
 */
import { displayText, escapeText } from '../core/display.ts';
import type { PolicyResult, TrustJudgement } from '../core/trust-policy.ts';

/** Longest warning, in characters: what a terminal line shows (Kubernetes' recommendation). */
export const MAX_WARNING_CHARS = 120;

/** Most warnings in one answer. */
export const MAX_WARNINGS = 6;

/** Most Warn policies named one by one; a last line counts the others. */
const MAX_POLICY_WARNINGS = 3;

/** Longest policy name shown in a warning (policy names may be 253 characters). */
const MAX_NAME_CHARS = 40;

/**
 * The warnings of a judgement: a short line per Warn policy that does not hold (its name and
 * code, a few at most), then judge's other warnings (test keys), each escaped and bounded.
 */
export function admissionWarnings(judgement: TrustJudgement): string[] {
  const failed = judgement.policies.filter((r) => r.mode === 'Warn' && !r.held);
  // judge's own line for a failing Warn policy carries its whole message: replaced here.
  const isWarnLine = (w: string) => failed.some((r) => w.startsWith(`policy ${r.policy} (Warn)`));
  const others = judgement.warnings.filter((w) => !isWarnLine(w));
  return boundWarnings([...policyWarnings(failed), ...others]);
}

/** Warnings escaped, each clipped to MAX_WARNING_CHARS, at most MAX_WARNINGS of them. */
export function boundWarnings(warnings: readonly string[]): string[] {
  return warnings.slice(0, MAX_WARNINGS).map(clip);
}

function policyWarnings(failed: readonly PolicyResult[]): string[] {
  const named = failed
    .slice(0, MAX_POLICY_WARNINGS)
    .map(
      (r) =>
        `GenomeTrustPolicy ${displayText(r.policy, MAX_NAME_CHARS)} (Warn) does not hold: ${r.code ?? 'GENOME_VERIFY_ERROR'}`,
    );
  const rest = failed.length - named.length;
  if (rest === 0) return named;
  return [
    ...named,
    `${rest} more GenomeTrustPolicies (Warn) do not hold: kubectl describe gn lists them`,
  ];
}

/** Escaped, then cut to MAX_WARNING_CHARS with an ellipsis (never inside a surrogate pair). */
function clip(text: string): string {
  const escaped = escapeText(text);
  if (escaped.length <= MAX_WARNING_CHARS) return escaped;
  let cut = MAX_WARNING_CHARS - 1;
  const code = escaped.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${escaped.slice(0, cut)}…`;
}
