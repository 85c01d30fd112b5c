/**
 * Which Events `genome status` shows: those about this very Genome (its uid; an Event naming no
 * uid could be about any object of that name, or made up), newest last by time, the most
 * recent few, each with who reported it (the operator says genome-operator).
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { StatusEvent } from './status-report.ts';

/** When an Event was last seen, in ms (0 when it says nothing readable). */
function seenAt(e: CoreV1Event): number {
  const when = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  const ms = when === undefined ? Number.NaN : new Date(when as Date | string).getTime();
  return Number.isNaN(ms) ? 0 : ms;
}

function toEvent(e: CoreV1Event): StatusEvent {
  const at = seenAt(e);
  return {
    type: e.type ?? '',
    reason: e.reason ?? '',
    message: e.message ?? '',
    count: e.count ?? e.series?.count ?? 1,
    lastSeen: at === 0 ? '' : new Date(at).toISOString(),
    reporter: reporterOf(e),
  };
}

/** Who reported an Event: reportingComponent, or the older source.component. */
const reporterOf = (e: CoreV1Event): string => e.reportingComponent || e.source?.component || '';

/** The `max` most recent Events about the object of `uid`, newest last. */
export function recentEvents(
  events: readonly CoreV1Event[],
  uid: string | undefined,
  max: number,
): StatusEvent[] {
  return events
    .filter((e) => uid !== undefined && e.involvedObject.uid === uid)
    .map((e) => ({ e, at: seenAt(e) }))
    .sort((a, b) => a.at - b.at)
    .slice(-max)
    .map(({ e }) => toEvent(e));
}
