import { isDeepStrictEqual } from 'node:util';
import { canonicalJson, sha256Hex } from '../core/canonical.ts';
import {
  CONDITION_READY,
  CONDITION_TRUST_EXPIRING,
  CONDITION_VERIFIED,
  REASON_PUBLISHED,
  REASON_VERIFIED,
  shortGenomeId,
  type GenomeConditionType,
  type GenomeResource,
  type GenomeStatus,
} from '../core/api.ts';
import { actionFor, refuse } from '../core/codes.ts';
import {
  findCondition,
  setCondition,
  summarizeReady,
  type ConditionInput,
} from '../core/conditions.ts';
import { displayMessage, displayText } from '../core/display.ts';
import {
  configMapDataDigest,
  configMapName as configMapNameOf,
  legacyConfigMapName,
  desiredConfigMap,
  type GenomeRef,
  type PublishedConfigMap,
} from '../core/render.ts';
import type { TrustedKey } from '../core/trust.ts';
import type { PolicyResult } from '../core/trust-policy.ts';
import type { CachedConfigMap } from './cached.ts';
import type { Refused, Verdict, Verified } from '../core/verify.ts';

/** What an Event on the Genome says. */
export interface GenomeEvent {
  type: 'Normal' | 'Warning';
  reason: 'Verified' | 'Refused' | 'Revoked' | 'Republished' | 'PolicyNotHeld' | 'TrustExpiring';
  message: string;
}

/** Everything decide() looks at, gathered by the reconciler. */
export interface DecideInput {
  genome: GenomeResource;
  verdict: Verdict;
  /** The trusted keys the verdict was reached with. */
  keys: readonly TrustedKey[];
  /** Production mode: refuse genomes whose threshold is met only with test keys. */
  production: boolean;
  /** The ConfigMaps this Genome owns now. */
  owned: readonly CachedConfigMap[];
  /** Names of ConfigMaps that pods in the namespace still mount. */
  mounted: ReadonlySet<string>;
  /**
   * The verdicts, under the current keys, of the genomes held by its older immutable ConfigMaps
   * that gated pods still mount (a rollout under way), by ConfigMap name. Gathered only for a
   * verified Genome.
   */
  earlier: ReadonlyMap<string, Verdict>;
  /**
   * The status this operator last wrote for this Genome (its fingerprint, statusFingerprint),
   * if any: clean-up waits until the status it follows has been written.
   */
  lastWrittenStatus: string | undefined;
  now: Date;
  /** The trust policies that matched, and how each judged the genome (status.policies). */
  policies?: readonly PolicyResult[];
  /** Epoch ms at which time alone may change the verdict (a key's window, a maxAge). */
  changesAt?: number;
  /**
   * The refusal the verdict turns into at `changesAt`, when that is within EXPIRY_WARNING_MS:
   * the TrustExpiring condition and Event.
   */
  expiring?: Refused;
}

/** What to do: the ConfigMap to apply, those to delete, the status and the Events. */
export interface Plan {
  /** The ConfigMap to apply: verified, and missing or not as it should be (else no write). */
  apply?: PublishedConfigMap;
  /** The ConfigMap of that name exists with other content: delete it before applying. */
  replace: boolean;
  /** Owned ConfigMaps to delete: not the current one and no longer mounted. */
  remove: string[];
  /** The deletions wait for the next reconcile, after the status written now (cleanUpWaits). */
  deferCleanUp: boolean;
  status: GenomeStatus;
  /** False when the status is already what it should be (no write). */
  writeStatus: boolean;
  events: GenomeEvent[];
  /** The verdict that decided (the production rule applied): the pods' gates follow it. */
  verdict: Verdict;
  /** The current ConfigMap exists, owned, immutable, with the content it should have. */
  inPlace: boolean;
  /**
   * The verdicts of the genomes its ConfigMaps hold, by ConfigMap name, for its pods' gates:
   * the current one once in place, and older ones that gated pods mount, each counted only as
   * the Genome's own (earlierVerdict).
   */
  published: Map<string, Verdict>;
  /**
   * Reconcile again after this long: clean-up waits for the status written now, or the verdict
   * changes with time alone then (a key's window, a maxAge: no event will come).
   */
  requeueAfter?: number;
}

/**
 * How long clean-up waits after the status written now: long enough for that status to land in
 * the cache (else the next look would write it again), and the key then goes behind every key
 * queued by then, so after a key revocation every Genome's status goes out before any clean-up.
 */
export const CLEAN_UP_DELAY_MS = 100;

/**
 * Decides what the world should look like for one Genome: gather → decide → act's pure
 * middle. Never throws for a genome's content; the verdict is data.
 */
export function decide(input: DecideInput): Plan {
  const verdict = productionVerdict(input);
  const desired = verdict.ok
    ? desiredConfigMap(ownerOf(input.genome), input.genome.spec.genome, verdict, input.keys)
    : undefined;
  const name = desired?.metadata.name;
  const previous = input.genome.status ?? {};
  const status = withPolicies(
    withExpiry(statusFor(input.genome, verdict, name, input.now), input, verdict),
    input.policies,
  );
  const published = publishing(input.owned, desired, previous);
  const writeStatus = !isDeepStrictEqual(comparable(previous), comparable(status));
  const remove = removable(input, name);
  const deferCleanUp = cleanUpWaits(input, status, writeStatus, remove);
  return {
    ...(desired && published.write && { apply: desired }),
    replace: published.replace,
    remove,
    deferCleanUp,
    status,
    writeStatus,
    events: eventsFor(previous, verdict, name, {
      republish: published.republish,
      policies: input.policies ?? [],
      status,
    }),
    verdict,
    inPlace: published.inPlace,
    published: publishedVerdicts(input, verdict, name, published.inPlace),
    ...requeue(input, deferCleanUp),
  };
}

/** How long ahead a verdict that time alone will refuse is announced (TrustExpiring). */
export const EXPIRY_WARNING_MS = 7 * 24 * 3_600_000;

/**
 * When to look again: after the clean-up delay, when time alone changes the verdict, and when
 * that change comes within EXPIRY_WARNING_MS (to announce it).
 */
function requeue(input: DecideInput, deferCleanUp: boolean): { requeueAfter?: number } {
  const untilChange =
    input.changesAt === undefined ? undefined : input.changesAt - input.now.getTime();
  const delays = [
    ...(deferCleanUp ? [CLEAN_UP_DELAY_MS] : []),
    // A millisecond past the boundary: the window ends at not-after itself (exclusive).
    ...(untilChange === undefined ? [] : [untilChange + 1]),
    ...(untilChange !== undefined && untilChange > EXPIRY_WARNING_MS
      ? [untilChange - EXPIRY_WARNING_MS]
      : []),
  ].map((ms) => Math.max(1, ms));
  return delays.length === 0 ? {} : { requeueAfter: Math.min(...delays) };
}

/**
 * The status with TrustExpiring while the verified genome will be refused within
 * EXPIRY_WARNING_MS with time alone; without it otherwise.
 */
function withExpiry(status: GenomeStatus, input: DecideInput, verdict: Verdict): GenomeStatus {
  const conditions = (status.conditions ?? []).filter((c) => c.type !== CONDITION_TRUST_EXPIRING);
  const expiring = input.expiring;
  if (!verdict.ok || expiring === undefined || input.changesAt === undefined)
    return { ...status, conditions };
  const at = new Date(input.changesAt).toISOString();
  const previous = input.genome.status?.conditions ?? [];
  const condition = setCondition(
    previous,
    {
      type: CONDITION_TRUST_EXPIRING,
      status: 'True',
      reason: expiring.code,
      message: displayMessage(
        `at ${at} the genome turns refused: ${expiring.message}. Sign it again with a key valid then (docs/trust-policies.md, rotation)`,
      ),
      observedGeneration: input.genome.metadata.generation ?? 0,
    },
    input.now,
  ).find((c) => c.type === CONDITION_TRUST_EXPIRING);
  return { ...status, conditions: condition ? [...conditions, condition] : conditions };
}

/** Most policies and signers a status lists (the CRD's bounds). */
const MAX_STATUS_POLICIES = 64;
const MAX_STATUS_SIGNERS = 64;

/**
 * The status with the policies that judged the genome: each one's mode, whether it held and
 * why not, and each signer's state. `kubectl describe gn` answers "why refused" with it.
 */
function withPolicies(status: GenomeStatus, policies?: readonly PolicyResult[]): GenomeStatus {
  if (policies === undefined) return status;
  return {
    ...status,
    policies: policies.slice(0, MAX_STATUS_POLICIES).map((p) => ({
      policy: p.policy,
      mode: p.mode,
      held: p.held,
      ...(p.code !== undefined && { reason: p.code }),
      message: displayMessage(p.message),
      signers: p.signers
        .slice(0, MAX_STATUS_SIGNERS)
        .map((s) => ({ keyId: s.keyId, counted: s.counted, state: s.state })),
    })),
  };
}

/**
 * Whether clean-up waits for the next reconcile. Status goes out first: a reconcile that
 * writes a status this operator has not written before leaves the deletions to the next
 * reconcile (requeueAfter CLEAN_UP_DELAY_MS, then behind every Genome queued by then). After a
 * key revocation every Genome's status then goes out before any clean-up, so Verified=False
 * reaches all of them at the API server's rate for one write each. A status the API server never shows as written (another field
 * manager keeps a field there) delays clean-up once, not for ever.
 */
function cleanUpWaits(
  input: DecideInput,
  status: GenomeStatus,
  writeStatus: boolean,
  remove: readonly string[],
): boolean {
  if (remove.length === 0 || !writeStatus) return false;
  return input.lastWrittenStatus !== statusFingerprint(status);
}

/**
 * What tells one status from another: a digest of everything but the transition times, whatever
 * the order of its keys (32 hex characters, so that remembering one per Genome stays small).
 */
export function statusFingerprint(status: GenomeStatus | undefined): string {
  const conditions = (status?.conditions ?? []).map(({ lastTransitionTime: _, ...c }) => c);
  // Keys sorted: the API server gives the status back with its keys in Go's (sorted) order.
  const text = canonicalJson({ ...status, conditions });
  return sha256Hex(new TextEncoder().encode(text)).slice(0, 32);
}

/** The verdicts of the genomes the Genome's ConfigMaps hold (see Plan.published). */
function publishedVerdicts(
  input: DecideInput,
  verdict: Verdict,
  current: string | undefined,
  inPlace: boolean,
): Map<string, Verdict> {
  const published = new Map<string, Verdict>();
  if (!verdict.ok || current === undefined) return published;
  if (inPlace) published.set(current, verdict);
  // The current one while it is replaced (replacedConfigMap) counts what it holds until then.
  for (const [name, earlier] of input.earlier)
    if (name !== current || !inPlace)
      published.set(name, earlierVerdict(input, verdict, name, earlier));
  return published;
}

/**
 * The name of the Genome's current ConfigMap when it exists with other content and is to be
 * replaced (deleted, then applied): the same genome id, other keys beside it (a key retired
 * while the genome stays verified by another). Its pods keep the verdict of the genome it
 * holds until the new one is applied, judged from its own content like an older ConfigMap's
 * (gather reads it), so no gate closes for a publication that changes nothing they run.
 */
export function replacedConfigMap(input: DecideInput): string | undefined {
  const verdict = productionVerdict(input);
  if (!verdict.ok) return undefined;
  const desired = desiredConfigMap(
    ownerOf(input.genome),
    input.genome.spec.genome,
    verdict,
    input.keys,
  );
  const existing = input.owned.find((c) => c.metadata?.name === desired.metadata.name);
  return existing !== undefined && !sameContent(existing, desired)
    ? desired.metadata.name
    : undefined;
}

/**
 * An older genome's verdict, refused unless the ConfigMap is one this Genome published: named
 * after the genome it holds, and a genome of the same name as the current one.
 */
export function earlierVerdict(
  input: Pick<DecideInput, 'genome' | 'keys' | 'production'>,
  current: Verified,
  configMapName: string,
  verdict: Verdict,
): Verdict {
  if (!verdict.ok) return verdict;
  const genomeName = input.genome.metadata.name ?? '';
  const ours =
    (configMapName === configMapNameOf(genomeName, verdict.genomeId) ||
      configMapName === legacyConfigMapName(genomeName, verdict.genomeId)) &&
    verdict.genome.name === current.genome.name;
  if (!ours)
    return {
      ok: false as const,
      ...refuse(
        'GENOME_NOT_VERIFIED',
        `ConfigMap ${displayText(configMapName)} holds a genome that Genome ${displayText(genomeName)} never published`,
      ),
    };
  return productionVerdict({ ...input, verdict });
}

/** The Genome as the owner of its ConfigMaps (the API server always sets these fields). */
function ownerOf(genome: GenomeResource): GenomeRef {
  const { name = '', namespace = '', uid = '' } = genome.metadata;
  return { name, namespace, uid };
}

/** Whether the ConfigMap must be replaced (other content) or comes back (deleted, edited). */
function publishing(
  owned: readonly CachedConfigMap[],
  desired: PublishedConfigMap | undefined,
  previous: GenomeStatus,
): { write: boolean; replace: boolean; republish: boolean; inPlace: boolean } {
  if (desired === undefined)
    return { write: false, replace: false, republish: false, inPlace: false };
  const existing = owned.find((c) => c.metadata?.name === desired.metadata.name);
  const replace = existing !== undefined && !sameContent(existing, desired);
  const deleted = existing === undefined && previous.configMapName === desired.metadata.name;
  const write = existing === undefined || replace || !sameMetadata(existing, desired);
  return {
    write,
    replace,
    republish: replace || deleted,
    inPlace: existing !== undefined && !replace,
  };
}

/** The labels, annotations and controller reference it should have are there. */
function sameMetadata(existing: CachedConfigMap, desired: PublishedConfigMap): boolean {
  const { labels = {}, annotations = {}, ownerReferences = [] } = existing.metadata ?? {};
  const want = desired.metadata;
  return (
    Object.entries(want.labels).every(([k, v]) => labels[k] === v) &&
    Object.entries(want.annotations).every(([k, v]) => annotations[k] === v) &&
    ownerReferences.some((o) => o.controller === true && o.uid === want.ownerReferences[0]?.uid)
  );
}

/** Owned ConfigMaps that are not the current one and that no pod mounts any more. */
function removable(input: DecideInput, current: string | undefined): string[] {
  return input.owned
    .map((c) => c.metadata?.name ?? '')
    .filter((name) => name !== '' && name !== current && !input.mounted.has(name));
}

/**
 * The production rule: a verified genome whose threshold is met only with the help of keys
 * marked as test keys is refused with a code of its own.
 */
export function productionVerdict(
  input: Pick<DecideInput, 'verdict' | 'keys' | 'production'>,
): Verdict {
  const { verdict, keys, production } = input;
  if (!production || !verdict.ok) return verdict;
  const testKeys = new Set(keys.filter((k) => k.test).map((k) => k.keyId));
  const real = verdict.signers.filter((s) => !testKeys.has(s));
  const threshold = Math.max(verdict.genome.authority.threshold, 1);
  if (real.length >= threshold) return verdict;
  const used = verdict.signers.filter((s) => testKeys.has(s)).join(', ');
  const message = `${real.length} production signer(s) signed and ${threshold} are required; the test key(s) ${used} do not count in production`;
  return {
    ok: false,
    ...refuse('GENOME_TEST_KEY_IN_PRODUCTION', message),
    genomeId: verdict.genomeId,
  };
}

function sameContent(existing: CachedConfigMap, desired: PublishedConfigMap): boolean {
  return existing.immutable === true && existing.dataDigest === configMapDataDigest(desired.data);
}

/** The status the Genome should have for this verdict. */
function statusFor(
  genome: GenomeResource,
  verdict: Verdict,
  configMapName: string | undefined,
  now: Date,
): GenomeStatus {
  const generation = genome.metadata.generation ?? 0;
  const previous = genome.status?.conditions ?? [];
  const verified = setCondition(previous, verifiedCondition(verdict, generation), now);
  const ready = summarizeReady(verified, [CONDITION_VERIFIED], {
    type: CONDITION_READY,
    generation,
    reason: REASON_PUBLISHED,
    message: `published in ConfigMap ${configMapName ?? ''}`,
  });
  const id = verdict.genomeId;
  return {
    observedGeneration: generation,
    ...(id !== undefined && { genomeId: id, shortId: shortGenomeId(id) }),
    verifiedSigners: verdict.ok ? verdict.signers : [],
    ...(configMapName !== undefined && { configMapName }),
    conditions: setCondition(verified, ready, now),
  };
}

function verifiedCondition(
  verdict: Verdict,
  generation: number,
): ConditionInput<GenomeConditionType> {
  const base = { type: CONDITION_VERIFIED as GenomeConditionType, observedGeneration: generation };
  if (verdict.ok) {
    return { ...base, status: 'True', reason: REASON_VERIFIED, message: verifiedMessage(verdict) };
  }
  return { ...base, status: 'False', reason: verdict.code, message: refusedMessage(verdict) };
}

function verifiedMessage(verdict: Verified): string {
  const warnings = verdict.warnings.length > 0 ? `; ${verdict.warnings.join('; ')}` : '';
  return displayMessage(
    `verified by ${verdict.signers.join(', ')} against the cluster's trusted keys${warnings}`,
  );
}

function refusedMessage(verdict: Refused): string {
  const field = verdict.field === undefined ? '' : ` (${verdict.field})`;
  return displayMessage(`${verdict.message}${field}. ${actionFor(verdict.code)}`);
}

/** Status without the fields that do not decide whether to write it. */
function comparable(status: GenomeStatus): GenomeStatus {
  return { ...status, conditions: status.conditions ?? [] };
}

/** What the Event rules look at. */
interface EventContext {
  was: ReturnType<typeof findCondition>;
  sameGenome: boolean;
  verdict: Verdict;
  configMapName: string;
  republish: boolean;
  /** The policies' results before (from the status) and now. */
  policiesBefore: readonly { policy: string; held: boolean }[];
  policies: readonly PolicyResult[];
  /** TrustExpiring in the status before, and in the status now. */
  expiringBefore: ReturnType<typeof findCondition>;
  expiringNow: ReturnType<typeof findCondition>;
}

/** One Event rule: the Event this change calls for, or undefined. */
type EventRule = (context: EventContext) => GenomeEvent | undefined;

const verifiedEvent: EventRule = ({ was, sameGenome, verdict, configMapName }) => {
  if (!verdict.ok || (was?.status === 'True' && sameGenome)) return undefined;
  const message = `genome ${shortGenomeId(verdict.genomeId)} verified by ${verdict.signers.join(', ')}; published in ConfigMap ${configMapName}`;
  return { type: 'Normal', reason: 'Verified', message: displayMessage(message) };
};

const refusedEvent: EventRule = ({ was, sameGenome, verdict }) => {
  if (verdict.ok || (was?.status === 'False' && was.reason === verdict.code && sameGenome)) {
    return undefined;
  }
  const reason = was?.status === 'True' && sameGenome ? 'Revoked' : 'Refused';
  return {
    type: 'Warning',
    reason,
    message: displayMessage(`${verdict.code}: ${verdict.message}`),
  };
};

const republishedEvent: EventRule = ({ republish, configMapName }) =>
  republish
    ? {
        type: 'Normal',
        reason: 'Republished',
        message: `ConfigMap ${configMapName} was changed or deleted; published it again`,
      }
    : undefined;

/**
 * A Warn or Audit policy that newly does not hold: it changes no verdict, so only this Event,
 * the status and the Verified message say so (an Enforce one's refusal has its own Event).
 */
const policyNotHeldEvents = ({ policies, policiesBefore }: EventContext): GenomeEvent[] =>
  policies
    .filter((p) => p.mode !== 'Enforce' && !p.held)
    .filter((p) => policiesBefore.find((b) => b.policy === p.policy)?.held !== false)
    .map((p) => ({
      type: 'Warning' as const,
      reason: 'PolicyNotHeld' as const,
      message: displayMessage(
        `policy ${p.policy} (${p.mode}) does not hold: ${p.code ?? ''}: ${p.message}`,
      ),
    }));

/** TrustExpiring newly True: the verdict turns refused within a week, with time alone. */
const expiringEvent: EventRule = ({ expiringBefore, expiringNow }) => {
  if (expiringNow === undefined || expiringBefore?.status === 'True') return undefined;
  return { type: 'Warning', reason: 'TrustExpiring', message: expiringNow.message };
};

const EVENT_RULES: readonly EventRule[] = [
  verifiedEvent,
  refusedEvent,
  republishedEvent,
  expiringEvent,
];

/** The Events of a change: only transitions, so a steady state emits none. */
function eventsFor(
  previous: GenomeStatus,
  verdict: Verdict,
  configMapName: string | undefined,
  {
    republish,
    policies,
    status,
  }: { republish: boolean; policies: readonly PolicyResult[]; status: GenomeStatus },
): GenomeEvent[] {
  const context: EventContext = {
    was: findCondition(previous.conditions ?? [], CONDITION_VERIFIED),
    sameGenome: previous.genomeId !== undefined && previous.genomeId === verdict.genomeId,
    verdict,
    configMapName: configMapName ?? '',
    republish,
    policiesBefore: previous.policies ?? [],
    policies,
    expiringBefore: findCondition(previous.conditions ?? [], CONDITION_TRUST_EXPIRING),
    expiringNow: findCondition(status.conditions ?? [], CONDITION_TRUST_EXPIRING),
  };
  const events = EVENT_RULES.map((rule) => rule(context)).filter((e) => e !== undefined);
  return [...events, ...policyNotHeldEvents(context)];
}
