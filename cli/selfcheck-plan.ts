/**
 * The pure half of genome-selfcheck (the chart's install hook and `helm test`): what one
 * dry-run Genome create told us, and what to do next. No I/O here.
 */

/** The answer to one dry-run create: admitted, or the API server's error (code and message). */
export type CreateAnswer =
  { admitted: true } | { admitted: false; code: number | undefined; message: string };

/** What an answer means for the check. */
export type Verdict =
  /** The webhook answered and refused with the expected code. */
  | { kind: 'refused'; code: string }
  /** The webhook answered and admitted. */
  | { kind: 'admitted' }
  /** No replica answered yet (or the API server could not call it): try again. */
  | { kind: 'wait'; why: string }
  /** An answer that will not change by waiting (RBAC, a missing namespace, a wrong refusal). */
  | { kind: 'fatal'; why: string };

/** The validating webhook's name in its configuration (core/webhook-config.ts). */
export const GENOME_WEBHOOK = 'genomes.mathison.io';

const denialPrefix = `admission webhook "${GENOME_WEBHOOK}" denied the request: `;

/** The refusal code at the start of a denial by the Genome webhook, if the message is one. */
export function refusalCode(message: string): string | undefined {
  const at = message.indexOf(denialPrefix);
  if (at < 0) return undefined;
  return /^([A-Z][A-Z_]+):/.exec(message.slice(at + denialPrefix.length))?.[1];
}

/**
 * The refusals that prove a replica answers and fails closed on a tampered Genome: its signature
 * checked and refused, or, before any key is trusted (the chart's default), every Genome refused
 * for want of a key.
 */
export const TAMPERED_REFUSALS = ['GENOME_INVALID_SIGNATURE', 'TRUST_KEYS_MISSING'] as const;

/**
 * The tampered Genome must be refused with one of `expected`. Admitted means the webhook did not
 * answer (a failurePolicy Ignore configuration let it through): wait. A refusal with another
 * code is fatal (the webhook answers, but not as it should).
 */
export function judgeTampered(
  answer: CreateAnswer,
  expected: string | readonly string[] = TAMPERED_REFUSALS,
): Verdict {
  const codes: readonly string[] = typeof expected === 'string' ? [expected] : expected;
  if (answer.admitted)
    return {
      kind: 'wait',
      why: 'the tampered Genome was admitted: no webhook replica answered yet',
    };
  return judgeError(answer, (code) =>
    codes.includes(code)
      ? { kind: 'refused', code }
      : {
          kind: 'fatal',
          why: `the tampered Genome was refused with ${code}, not ${codes.join(' or ')}`,
        },
  );
}

/** The good Genome must be admitted; a refusal by the webhook is fatal and says why. */
export function judgeGood(answer: CreateAnswer): Verdict {
  if (answer.admitted) return { kind: 'admitted' };
  return judgeError(answer, (code) => ({
    kind: 'fatal',
    why: `the good Genome was refused with ${code}: is its signer in a trust Secret of the webhook's namespace?`,
  }));
}

function judgeError(
  answer: Extract<CreateAnswer, { admitted: false }>,
  onRefusal: (code: string) => Verdict,
): Verdict {
  const code = refusalCode(answer.message);
  if (code !== undefined) return onRefusal(code);
  // failurePolicy Fail and no replica: "failed calling webhook ...". No answer at all, 429, 5xx.
  if (answer.message.includes('failed calling webhook') || answer.code === undefined)
    return { kind: 'wait', why: firstLine(answer.message) };
  if (answer.code === 429 || answer.code >= 500)
    return { kind: 'wait', why: firstLine(answer.message) };
  return { kind: 'fatal', why: `HTTP ${answer.code}: ${firstLine(answer.message)}` };
}

const firstLine = (text: string): string => text.split('\n')[0]!.slice(0, 300);

/** A Genome whose signed content changed: any signature over it no longer matches. */
export function tamper(genome: Record<string, unknown>): Record<string, unknown> {
  return { ...genome, version: genome.version === '6.6.6' ? '6.6.7' : '6.6.6' };
}
