import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../core/log.ts';

/** What an Event says. */
export interface EventNote {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const REPORTING_COMPONENT = 'genome-operator';

/**
 * Records a core/v1 Event about an object (kubectl describe shows it). A failure to record is
 * logged, never thrown: an Event is a report, not part of the decision.
 */
export async function recordEvent(
  kc: KubeConfig,
  object: KubernetesObject,
  note: EventNote,
  log: Logger,
): Promise<void> {
  const body = eventFor(object, note, new Date());
  const namespace = body.metadata?.namespace as string;
  try {
    await kc.makeApiClient(CoreV1Api).createNamespacedEvent({ namespace, body });
  } catch (err) {
    const fields = {
      namespace,
      name: object.metadata?.name,
      reason: note.reason,
      err: String(err),
    };
    log.warn('could not record an Event', fields);
  }
}

function eventFor(object: KubernetesObject, note: EventNote, now: Date): CoreV1Event {
  const { name, namespace = 'default', uid, resourceVersion } = object.metadata ?? {};
  return {
    metadata: { generateName: `${name ?? 'object'}.`, namespace },
    involvedObject: {
      apiVersion: object.apiVersion ?? 'v1',
      kind: object.kind ?? 'Secret',
      name,
      namespace,
      uid,
      resourceVersion,
    },
    type: note.type,
    reason: note.reason,
    message: note.message.slice(0, 1024),
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    source: { component: REPORTING_COMPONENT },
    reportingComponent: REPORTING_COMPONENT,
    reportingInstance: process.env.HOSTNAME ?? REPORTING_COMPONENT,
  };
}

/** Records Events, aggregated as client-go's recorder does. */
export interface EventRecorder {
  record(object: KubernetesObject, note: EventNote): Promise<void>;
}

/** Identical Events (same object, type, reason, message) seen within this window bump one count. */
const AGGREGATE_WINDOW_MS = 10 * 60_000;
/** Per object: a burst of 25 Events, then one per 5 minutes (client-go's spam filter). */
const BURST = 25;
const REFILL_MS = 5 * 60_000;
const MAX_TRACKED = 4096;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  last: number;
}

/**
 * A recorder that never floods: a repeat of an identical Event patches the existing one's
 * count and lastTimestamp instead of creating another, and each object has a token bucket.
 * Failures are logged, never thrown.
 */
export function eventRecorder(
  kc: KubeConfig,
  log: Logger,
  now: () => number = Date.now,
): EventRecorder {
  const api = kc.makeApiClient(CoreV1Api);
  const seen = new Map<string, Seen>();
  const buckets = new Map<string, { tokens: number; at: number }>();
  const allowed = (uid: string): boolean => {
    const t = now();
    const bucket = buckets.get(uid) ?? { tokens: BURST, at: t };
    bucket.tokens = Math.min(BURST, bucket.tokens + (t - bucket.at) / REFILL_MS);
    bucket.at = t;
    if (buckets.size > MAX_TRACKED) buckets.clear();
    buckets.set(uid, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  };
  const bump = async (previous: Seen): Promise<boolean> => {
    const body = { count: previous.count + 1, lastTimestamp: new Date(now()).toISOString() };
    try {
      await api.patchNamespacedEvent(
        { name: previous.name, namespace: previous.namespace, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      previous.count += 1;
      previous.last = now();
      return true;
    } catch {
      return false; // expired or deleted: create a new one
    }
  };
  const create = async (object: KubernetesObject, note: EventNote, key: string) => {
    const body = eventFor(object, note, new Date(now()));
    const namespace = body.metadata?.namespace as string;
    try {
      const created = await api.createNamespacedEvent({ namespace, body });
      if (seen.size > MAX_TRACKED) seen.clear();
      seen.set(key, { name: created.metadata?.name ?? '', namespace, count: 1, last: now() });
    } catch (err) {
      const fields = {
        namespace,
        name: object.metadata?.name,
        reason: note.reason,
        err: String(err),
      };
      log.warn('could not record an Event', fields);
    }
  };
  return {
    record: async (object, note) => {
      const uid = object.metadata?.uid ?? '';
      const key = `${uid}|${note.type}|${note.reason}|${note.message}`;
      if (!allowed(uid)) return;
      const previous = seen.get(key);
      const recent = previous !== undefined && now() - previous.last < AGGREGATE_WINDOW_MS;
      if (recent && (await bump(previous))) return;
      await create(object, note, key);
    },
  };
}
