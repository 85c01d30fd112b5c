/** A condition's status, as Kubernetes spells it. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A condition in the standard Kubernetes shape (metav1.Condition). */
export interface Condition<T extends string = string> {
  type: T;
  status: ConditionStatus;
  /** CamelCase reason, or a stable refusal code. */
  reason: string;
  message: string;
  /** RFC 3339, seconds precision, as the API server writes metav1.Time. */
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** What a caller decides about one condition (always for a generation); setCondition adds the time. */
export type ConditionInput<T extends string = string> = Omit<Condition<T>, 'lastTransitionTime'> & {
  observedGeneration: number;
};

/** The time as metav1.Time serializes it: RFC 3339 in UTC, whole seconds. */
export function conditionTime(now: Date): string {
  return `${now.toISOString().slice(0, 19)}Z`;
}

/**
 * Returns the conditions with `input` set: a condition of the same type is replaced in place
 * (others keep their order), a new type is appended. lastTransitionTime stays what it was
 * unless the status flips, so it says when the status last changed, not when it was written.
 */
export function setCondition<T extends string>(
  conditions: readonly Condition<T>[],
  input: ConditionInput<T>,
  now: Date,
): Condition<T>[] {
  const index = conditions.findIndex((c) => c.type === input.type);
  const previous = conditions[index];
  const lastTransitionTime =
    previous !== undefined && previous.status === input.status
      ? previous.lastTransitionTime
      : conditionTime(now);
  const next: Condition<T> = { ...input, lastTransitionTime };
  if (index === -1) return [...conditions, next];
  return conditions.map((c, i) => (i === index ? next : c));
}

/** The condition of a type, or undefined. */
export function findCondition<T extends string>(
  conditions: readonly Condition<T>[],
  type: T,
): Condition<T> | undefined {
  return conditions.find((c) => c.type === type);
}

/** What Ready says when every condition it summarizes is True. */
export interface ReadySummary<T extends string = string> {
  type: T;
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
export function summarizeReady<T extends string>(
  conditions: readonly Condition<T>[],
  dependencies: readonly T[],
  summary: ReadySummary<T>,
): ConditionInput<T> {
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
