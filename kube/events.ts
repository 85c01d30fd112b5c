import {
  CoreV1Api,
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
