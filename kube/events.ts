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

/**
 * Records Events, aggregated as client-go's recorder does, and like it asynchronously: record()
 * queues and returns at once, and one sender writes them in order.
 */
export interface EventRecorder {
  record(object: KubernetesObject, note: EventNote): void;
  /** Resolves once every Event queued so far was written (or given up on). */
  flushed(): Promise<void>;
}

/** Identical Events (same object, type, reason, message) seen within this window bump one count. */
const AGGREGATE_WINDOW_MS = 10 * 60_000;
/** Per object: a burst of 25 Events, then one per 5 minutes (client-go's spam filter). */
const BURST = 25;
const REFILL_MS = 5 * 60_000;
const MAX_TRACKED = 4096;
/** Events waiting to be written; beyond this, new ones are dropped (client-go: 1,000). */
const MAX_QUEUED = 1000;

interface Seen {
  name: string;
  namespace: string;
  count: number;
  last: number;
}

/**
 * client-go's spam filter: a token bucket per object uid (a burst of BURST, then one per
 * REFILL_MS). The returned function takes a token for `uid`, or says false when there is none.
 */
function spamFilter(now: () => number): (uid: string) => boolean {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (uid) => {
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
}

/**
 * A recorder that never floods and never holds up its caller: Events go through a queue that
 * one sender drains, so a burst of reconciles (every Genome after a key revocation) writes its
 * status updates at the API server's full rate while the Events follow at one write at a time,
 * as client-go's broadcaster does. A repeat of an identical Event patches the existing one's
 * count and lastTimestamp instead of creating another, and each object has a token bucket.
 * Failures are logged, never thrown; a full queue drops the Event and says so in the log.
 */
export function eventRecorder(
  kc: KubeConfig,
  log: Logger,
  now: () => number = Date.now,
): EventRecorder {
  return eventRecorderWith(kc.makeApiClient(CoreV1Api), log, now);
}

/** The two calls the recorder makes. */
export type EventApi = Pick<CoreV1Api, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

/** eventRecorder over any EventApi (the API server's, or a fake in unit tests). */
export function eventRecorderWith(
  api: EventApi,
  log: Logger,
  now: () => number = Date.now,
): EventRecorder {
  const seen = new Map<string, Seen>();
  const allowed = spamFilter(now);
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
  const write = async (object: KubernetesObject, note: EventNote) => {
    const key = `${object.metadata?.uid ?? ''}|${note.type}|${note.reason}|${note.message}`;
    const previous = seen.get(key);
    const recent = previous !== undefined && now() - previous.last < AGGREGATE_WINDOW_MS;
    if (recent && (await bump(previous))) return;
    await create(object, note, key);
  };
  const queue: { object: KubernetesObject; note: EventNote }[] = [];
  let sending: Promise<void> | undefined;
  const drain = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      try {
        await write(next.object, next.note);
      } catch (err) {
        log.warn('could not record an Event', { reason: next.note.reason, err: String(err) });
      }
    }
    sending = undefined;
  };
  return {
    record: (object, note) => {
      if (!allowed(object.metadata?.uid ?? '')) return;
      if (queue.length >= MAX_QUEUED) {
        log.warn('Event queue full; dropped an Event', {
          namespace: object.metadata?.namespace,
          name: object.metadata?.name,
          reason: note.reason,
        });
        return;
      }
      queue.push({ object, note });
      sending ??= drain();
    },
    flushed: async () => {
      while (sending !== undefined) await sending;
    },
  };
}
