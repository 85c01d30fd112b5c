/**
 * `genome status`: what a Genome's status and Events say, and what to do. Pure: it renders
 * what cli/commands/status.ts read. Every text from the cluster is escaped (core/display.ts)
 * in the text report, and written as \u escapes outside printable ASCII in the JSON.
 */
import { CONDITION_VERIFIED, type GenomeCondition, type GenomeResource } from '../core/api.ts';
import { REFUSAL_CODES, type RefusalCode } from '../core/codes.ts';
import { displayMessage, displayText } from '../core/display.ts';
import { asciiJson } from './json.ts';

/** One Event about the Genome, as the report shows it. */
export interface StatusEvent {
  type: string;
  reason: string;
  message: string;
  count: number;
  lastSeen: string;
  /** Who reported it (reportingComponent, or the older source.component). */
  reporter: string;
}

export interface StatusFacts {
  genome: GenomeResource;
  events: StatusEvent[];
}

const isCode = (reason: string): reason is RefusalCode => Object.hasOwn(REFUSAL_CODES, reason);

/** Verified=True for the Genome's current generation: the only "yes" (exit 0). */
export function isVerified(genome: GenomeResource): boolean {
  const verified = genome.status?.conditions?.find((c) => c.type === CONDITION_VERIFIED);
  const generation = genome.metadata?.generation;
  const observed = verified?.observedGeneration ?? genome.status?.observedGeneration;
  return verified?.status === 'True' && (generation === undefined || observed === generation);
}

/** A line that says why the verdict is not yet known, or undefined. */
function pending(genome: GenomeResource): string | undefined {
  const status = genome.status;
  const verified = status?.conditions?.find((c) => c.type === CONDITION_VERIFIED);
  if (verified === undefined)
    return 'the operator has not written a Verified condition yet: is an operator replica running (genome check)?';
  const generation = genome.metadata?.generation;
  const observed = verified.observedGeneration ?? status?.observedGeneration;
  if (generation !== undefined && observed !== generation)
    return `the status is of generation ${observed ?? '(none)'}, not the current ${generation}: the operator has not verified this change yet`;
  return undefined;
}

function conditionLines(c: GenomeCondition): string[] {
  const generation =
    c.observedGeneration === undefined ? '' : `, generation ${c.observedGeneration}`;
  const lines = [
    `  ${displayText(c.type).padEnd(14)} ${displayText(c.status).padEnd(7)} ${displayText(c.reason)}  (since ${displayText(c.lastTransitionTime)}${generation})`,
  ];
  if (c.message !== '') lines.push(`    message:    ${displayMessage(c.message)}`);
  if (c.status !== 'True' || c.type !== CONDITION_VERIFIED) {
    if (isCode(c.reason)) {
      lines.push(`    meaning:    ${REFUSAL_CODES[c.reason].meaning}`);
      lines.push(`    what to do: ${REFUSAL_CODES[c.reason].action}`);
    }
  }
  return lines;
}

function policyLines(genome: GenomeResource): string[] {
  const policies = genome.status?.policies ?? [];
  if (policies.length === 0) return [];
  return [
    'Policies:',
    ...policies.flatMap((p) => [
      `  policy ${displayText(p.policy)} (${displayText(p.mode)}): ${p.held ? 'HELD' : `NOT HELD ${displayText(p.reason ?? '')}`}`,
      `    ${displayMessage(p.message)}`,
    ]),
  ];
}

function eventLines(events: readonly StatusEvent[]): string[] {
  if (events.length === 0) return ['Events: none recent'];
  return [
    'Events (newest last):',
    ...events.map(
      (e) =>
        `  ${displayText(e.lastSeen)}  ${displayText(e.type).padEnd(7)} ${displayText(e.reason)} x${e.count} (${displayText(e.reporter || 'unknown reporter')}): ${displayMessage(e.message)}`,
    ),
  ];
}

/** The Genome's identity and status with every optional field filled in. */
function facts(genome: GenomeResource) {
  const status = genome.status ?? {};
  return {
    namespace: genome.metadata?.namespace ?? '',
    name: genome.metadata?.name ?? '',
    generation: genome.metadata?.generation,
    observedGeneration: status.observedGeneration,
    genomeId: status.genomeId,
    verifiedSigners: status.verifiedSigners ?? [],
    conditions: status.conditions ?? [],
    policies: status.policies ?? [],
  };
}

/** The text report (stdout). */
export function statusText({ genome, events }: StatusFacts): string {
  const f = facts(genome);
  const why = pending(genome);
  const signers = f.verifiedSigners.map((s) => displayText(s)).join(', ');
  return [
    `Genome ${displayText(f.namespace)}/${displayText(f.name)}: ${isVerified(genome) ? 'VERIFIED' : 'NOT VERIFIED'}`,
    `  generation:       ${f.generation ?? '(unknown)'} (status of ${f.observedGeneration ?? 'none'})`,
    `  genome id:        ${displayText(f.genomeId ?? '(none)')}`,
    `  verified signers: ${signers || '(none)'}`,
    ...(why === undefined ? [] : [`  NOTE: ${why}`]),
    'Conditions:',
    ...f.conditions.flatMap(conditionLines),
    ...policyLines(genome),
    ...eventLines(events),
    '',
  ].join('\n');
}

/** The -o json document (docs/cli.md). */
export function statusJson({ genome, events }: StatusFacts): string {
  const f = facts(genome);
  return asciiJson({
    namespace: f.namespace,
    name: f.name,
    generation: f.generation ?? null,
    observedGeneration: f.observedGeneration ?? null,
    verified: isVerified(genome),
    genomeId: f.genomeId ?? null,
    verifiedSigners: f.verifiedSigners,
    conditions: f.conditions.map((c) => ({
      ...c,
      ...(isCode(c.reason) && {
        code: c.reason,
        meaning: REFUSAL_CODES[c.reason].meaning,
        action: REFUSAL_CODES[c.reason].action,
      }),
    })),
    policies: f.policies,
    events,
  });
}
