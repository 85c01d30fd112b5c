/** A condition's status, as Kubernetes spells it. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A condition in the standard Kubernetes shape (metav1.Condition). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  /** CamelCase reason, or a stable refusal code. */
  reason: string;
  message: string;
  /** RFC 3339, seconds precision, as the API server writes metav1.Time. */
  lastTransitionTime: string;
  observedGeneration: number;
}

/** What a caller decides about one condition; the time is filled in by setCondition. */
export type ConditionInput = Omit<Condition, 'lastTransitionTime'>;

/** The time as metav1.Time serializes it: RFC 3339 in UTC, whole seconds. */
export function conditionTime(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Returns the conditions with `input` set: a condition of the same type is replaced in place
 * (others keep their order), a new type is appended. lastTransitionTime stays what it was
 * unless the status flips, so it says when the status last changed, not when it was written.
 */
export function setCondition(
  conditions: readonly Condition[],
  input: ConditionInput,
  now: Date,
): Condition[] {
  const index = conditions.findIndex((c) => c.type === input.type);
  const previous = conditions[index];
  const lastTransitionTime =
    previous !== undefined && previous.status === input.status
      ? previous.lastTransitionTime
      : conditionTime(now);
  const next: Condition = { ...input, lastTransitionTime };
  if (index === -1) return [...conditions, next];
  return conditions.map((c, i) => (i === index ? next : c));
}

/** The condition of a type, or undefined. */
export function findCondition(
  conditions: readonly Condition[],
  type: string,
): Condition | undefined {
  return conditions.find((c) => c.type === type);
}

/** What Ready says when every condition it summarizes is True. */
export interface ReadySummary {
  type: string;
  generation: number;
  /** The reason and message of a True summary. */
  reason: string;
  message: string;
}

/**
 * Summarizes `dependencies` into one condition (Ready): True with the given reason only when
 * every dependency is True for the current generation; otherwise the status, reason and
 * message of the first that is not (Unknown when a dependency is missing or stale).
 */
export function summarizeReady(
  conditions: readonly Condition[],
  dependencies: readonly string[],
  summary: ReadySummary,
): ConditionInput {
  const base = { type: summary.type, observedGeneration: summary.generation };
  for (const type of dependencies) {
    const condition = findCondition(conditions, type);
    if (condition === undefined) {
      return { ...base, status: 'Unknown', reason: 'Pending', message: `${type} is not known yet` };
    }
    if (condition.observedGeneration !== summary.generation) {
      const message = `${type} was decided for generation ${condition.observedGeneration}, not ${summary.generation}`;
      return { ...base, status: 'Unknown', reason: 'Pending', message };
    }
    if (condition.status !== 'True') {
      const { status, reason, message } = condition;
      return { ...base, status, reason, message };
    }
  }
  return { ...base, status: 'True', reason: summary.reason, message: summary.message };
}
