/**
 * The gate controller: the readiness gate genome.mathison.io/verified of each labelled pod
 * (key `namespace/name` of the pod), from the pod as it is, the Genome it names, and the
 * verdicts the Genome controller published (operator/verdicts.ts). The pure part, what a
 * pod's condition should be, is operator/gate.ts.
 *
 * Level-based, pod by pod: a pod that leaves the cache (its genome label removed, or deleted)
 * is read from the API server as it is now, and if it lives on with its gate declared but no
 * Genome named, its gate is closed. Nothing is remembered from the event that woke it.
 *
 * A write that changes the gate's status records an Event on the pod (GateEvents): Warning
 * GateClosed with the code and the condition's message, or Normal GateOpened.
 */
import {
  GENOME_API_VERSION,
  GENOME_KIND,
  GENOME_LABEL,
  VERIFIED_READINESS_GATE,
} from '../../core/api.ts';
import { displayMessage } from '../../core/display.ts';
import { type Logger } from '../../core/log.ts';
import type { EventNote, EventRecorder } from '../../kube/events.ts';
import { isNotFound, isUidMismatch, statusCode } from '../../kube/errors.ts';
import { objectKey } from '../../kube/informer.ts';
import type { OperatorClient } from '../../kube/operator-client.ts';
import {
  bootCheckFailure,
  gateWrites,
  hasGate,
  releasedGate,
  staleGate,
  type GateWrite,
} from '../gate.ts';
import type { CompactGenome } from '../genome-store.ts';
import type { OperatorMetrics } from '../metrics.ts';
import { genomeKeyOf, type PodIndex } from '../pod-index.ts';
import {
  atStart,
  watchCache,
  watchKeys,
  type ControllerSpec,
  type EventSource,
} from '../runtime/controller.ts';
import { DONE, type Result } from '../runtime/result.ts';
import { isCurrent, type Verdicts } from '../verdicts.ts';
import type { TrustView } from './genome.ts';
import type { CachedPod } from '../cached.ts';
import type { KubernetesObject } from '@kubernetes/client-node';

/** What the gate controller reads and writes. */
export interface GateControllerDeps {
  /** The labelled pods (operator/cached-pod.ts shapes). */
  pods: EventSource<CachedPod> & { get(key: string): CachedPod | undefined; list(): CachedPod[] };
  /** The same pods by the Genome they name. */
  index: PodIndex;
  genomes: EventSource<CompactGenome> & { cached(key: string): CompactGenome | undefined };
  verdicts: Verdicts;
  trust: Pick<TrustView, 'keys' | 'synced' | 'onChange' | 'version'>;
  client: Pick<OperatorClient, 'readPod' | 'patchPodGate'>;
  metrics: Pick<OperatorMetrics, 'gateWrites'>;
  /** Where GateClosed and GateOpened Events on pods go (aggregated and rate-limited per pod). */
  events: Pick<EventRecorder, 'record'>;
  log: Logger;
  now?: () => Date;
  /** Pods whose gate is written at once (default 32). */
  workers?: number;
}

/** The gate controller. */
export function gateController(deps: GateControllerDeps): ControllerSpec {
  const written = new GateWriteLog(deps.log);
  const told = new GateEvents(deps.events);
  const podsOf = (genomeKey: string) => deps.index.podsOf(genomeKey).map(objectKey);
  const everyPod = () => deps.pods.list().map(objectKey);
  let fresh = deps.trust.synced();
  return {
    name: 'gate',
    workers: deps.workers ?? 32,
    watches: [
      atStart(everyPod),
      // A pod that leaves the cache with its gate still declared may live on unlabelled.
      watchCache(deps.pods, (e) =>
        e.type !== 'delete' || hasGate(e.object) ? objectKey(e.object) : undefined,
      ),
      watchKeys(deps.verdicts, podsOf),
      // Whether the Genome exists (and which uid it has) is all a gate reads of it.
      watchCache(deps.genomes, (e) =>
        e.type === 'update' && e.old.metadata?.uid === e.object.metadata?.uid
          ? undefined
          : podsOf(objectKey(e.object)),
      ),
      // Every gate, when the keys turn stale or current again.
      watchKeys({ onChange: (tell) => deps.trust.onChange(() => tell('')) }, () => {
        if (deps.trust.synced() === fresh) return undefined;
        fresh = deps.trust.synced();
        return everyPod();
      }),
    ],
    reconcile: (key) => reconcileGate(deps, { written, told }, key),
    stopped: () => written.flush(),
  };
}

/** How often the gate writes are summed up in one log line, at most. */
export const GATE_LOG_INTERVAL_MS = 1_000;

/**
 * The gate writes, logged summed up at most once per interval: a line per pod would be a
 * thousand lines per key revocation at 1,000 pods (and their cost is a tenth of a gate write's),
 * and a tenant churning pods would write the log at its own pace. The counter
 * genome_pod_gate_writes_total counts every write; each pod's condition says why.
 */
export class GateWriteLog {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = GATE_LOG_INTERVAL_MS,
  ) {}

  /** Counts one write; the summary follows within the interval. */
  written(condition: { status: string; reason: string }): void {
    const key = `${condition.status} ${condition.reason}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs).unref();
  }

  /** Logs what was counted since the last summary, if anything. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.counts.size === 0) return;
    const counts = [...this.counts];
    this.counts = new Map();
    const byStatus = (status: string) =>
      counts.filter(([k]) => k.startsWith(`${status} `)).reduce((n, [, c]) => n + c, 0);
    // The reasons are the operator's own words (operator/gate.ts), not a tenant's.
    const reasons = Object.fromEntries(counts.map(([k, c]) => [k.replace(' ', ': '), c] as const));
    this.log.info('readiness gates written', {
      opened: byStatus('True'),
      closed: byStatus('False'),
      reasons,
    });
  }
}

/** At most this many pods' last gate writes are remembered (the oldest is forgotten first). */
export const GATE_EVENTS_REMEMBERED = 10_000;

/**
 * The gate's Events: one per pod per change of the gate's status, never per reconcile. A write
 * that changes the status from what the pod carried (absent counts as a change) is told. A
 * reconcile that runs on the cached pod before the watch brought back the operator's own write
 * (the same resourceVersion as the write before) writes the same status again: that is not
 * told twice. The recorder (kube/events.ts) aggregates and rate-limits per pod on top.
 */
export class GateEvents {
  /** By pod uid: the resourceVersion the last write was made over, and the status it wrote. */
  private readonly last = new Map<string, { over: string | undefined; status: string }>();

  constructor(private readonly recorder: Pick<EventRecorder, 'record'>) {}

  /** After a successful write over `pod` (as it was read): records an Event if the status changed. */
  written(pod: CachedPod, write: GateWrite): void {
    const { status } = write.condition;
    const over = pod.metadata?.resourceVersion;
    const before = this.last.get(write.uid);
    this.last.delete(write.uid);
    this.last.set(write.uid, { over, status });
    if (this.last.size > GATE_EVENTS_REMEMBERED)
      this.last.delete(this.last.keys().next().value as string);
    if (before !== undefined && before.over === over && before.status === status) return;
    if (gateStatusOf(pod) === status) return;
    const { namespace, name, uid } = write;
    this.recorder.record(
      { apiVersion: 'v1', kind: 'Pod', metadata: { namespace, name, uid } },
      gateNote(write),
    );
  }
}

/** The status of the gate's condition on `pod`, or undefined when it has none. */
function gateStatusOf(pod: CachedPod): string | undefined {
  return pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE)?.status;
}

/** The Event of a gate write: Warning GateClosed with the code, or Normal GateOpened. */
export function gateNote({ condition }: GateWrite): EventNote {
  // The condition's message is already escaped and bounded (operator/gate.ts); again, to be sure.
  if (condition.status === 'True')
    return {
      type: 'Normal',
      reason: 'GateOpened',
      message: displayMessage(
        `readiness gate ${VERIFIED_READINESS_GATE} opened: ${condition.message}`,
      ),
    };
  return {
    type: 'Warning',
    reason: 'GateClosed',
    message: displayMessage(
      `readiness gate ${VERIFIED_READINESS_GATE} closed: ${condition.reason}: ${condition.message}`,
    ),
  };
}

/** What a reconcile reports its writes to: the log summary, and the pods' Events. */
interface GateReports {
  written: GateWriteLog;
  told: GateEvents;
}

async function reconcileGate(
  deps: GateControllerDeps,
  reports: GateReports,
  key: string,
): Promise<Result> {
  const cached = deps.pods.get(key);
  const plan = cached === undefined ? await released(deps, key) : desiredWrite(deps, cached);
  if (plan === undefined) return DONE;
  const { pod, write } = plan;
  try {
    await deps.client.patchPodGate(write.namespace, write.name, write.uid, write.condition);
  } catch (err) {
    // Gone, or replaced by a pod of the same name (which the cache shows on its own).
    if (isNotFound(err) || statusCode(err) === 409 || isUidMismatch(err)) return DONE;
    throw err;
  }
  deps.metrics.gateWrites.inc({ status: write.condition.status });
  reports.written.written(write.condition);
  reports.told.written(pod, write);
  const event = bootCheckEvent(pod, write, deps.genomes.cached(genomeKeyOf(pod) ?? ''));
  if (event !== undefined) deps.events.record(event.object, event.note);
  return DONE;
}

/** Whether `write` closes the pod's gate for `code`, which it was not closed for before. */
function closesNewlyFor(pod: CachedPod, write: GateWrite, code: string): boolean {
  const { condition } = write;
  if (condition.status !== 'False' || condition.reason !== code) return false;
  const gate = pod.status?.conditions?.find((c) => c.type === VERIFIED_READINESS_GATE);
  return !(gate?.status === 'False' && gate.reason === code);
}

/**
 * The Warning Event on the Genome when a write closes a pod's gate because its boot check
 * refused (a build manifest that does not match the pod's image, say): reason the code, the
 * message naming the pod and the boot check's reason (which names the container's image). Once
 * per change of the gate's reason to it; the recorder aggregates repeats.
 */
export function bootCheckEvent(
  pod: CachedPod,
  write: GateWrite,
  genome: CompactGenome | undefined,
): { object: KubernetesObject; note: EventNote } | undefined {
  const failure = bootCheckFailure(pod);
  if (genome?.metadata === undefined || failure === undefined) return undefined;
  if (!closesNewlyFor(pod, write, failure.code)) return undefined;
  const { name, namespace, uid } = genome.metadata;
  return {
    object: {
      apiVersion: GENOME_API_VERSION,
      kind: GENOME_KIND,
      metadata: { name, namespace, uid },
    },
    note: {
      type: 'Warning',
      reason: failure.code,
      message: displayMessage(`pod ${write.namespace}/${write.name}: ${failure.message}`),
    },
  };
}

/** A write, and the pod as it was read (what the write changes). */
interface Planned {
  pod: CachedPod;
  write: GateWrite;
}

/** `write` for `pod`, or undefined when there is none. */
const planned = (pod: CachedPod, write: GateWrite | undefined): Planned | undefined =>
  write === undefined ? undefined : { pod, write };

/**
 * The write a cached pod's gate needs, or undefined. While the keys are stale, no gate opens;
 * a Genome that is gone closes its pods' gates; otherwise the Genome's published verdict
 * decides, once it was decided under the keys in force for the Genome cached now, its uid and
 * generation (until then the Genome controller is on its way, and its verdict brings the pod
 * back).
 */
function desiredWrite(deps: GateControllerDeps, pod: CachedPod): Planned | undefined {
  return planned(pod, desiredGateWrite(deps, pod));
}

function desiredGateWrite(deps: GateControllerDeps, pod: CachedPod): GateWrite | undefined {
  const now = (deps.now ?? (() => new Date()))();
  if (!deps.trust.synced()) return staleGate(pod, now);
  const genomeKey = genomeKeyOf(pod) ?? '';
  const genome = deps.genomes.cached(genomeKey);
  const entry = deps.verdicts.get(genomeKey);
  if (genome === undefined)
    return gateWrites([pod], { genomeKey, verdict: undefined, published: new Map(), now })[0];
  if (!isCurrent(entry, genome, deps.trust.version(genome.metadata?.namespace ?? '')))
    return undefined;
  const input = { genomeKey, verdict: entry.verdict, published: entry.configMaps, now };
  return gateWrites([pod], input)[0];
}

/**
 * The write for a pod the cache no longer holds: read as the API server has it now, it is
 * gone (nothing to do), or it lives on with its gate declared and no Genome named (its label
 * was removed: nothing keeps its genome verified, so its gate closes).
 */
async function released(deps: GateControllerDeps, key: string): Promise<Planned | undefined> {
  const [namespace = '', name = ''] = key.split('/');
  const pod = (await deps.client.readPod(namespace, name)) as CachedPod | undefined;
  if (pod === undefined) return undefined;
  // Still labelled: the cache brings it back (a watch that has not caught up yet).
  const label = pod.metadata?.labels?.[GENOME_LABEL];
  if (label !== undefined && label !== '') return undefined;
  return planned(pod, releasedGate(pod, (deps.now ?? (() => new Date()))()));
}
