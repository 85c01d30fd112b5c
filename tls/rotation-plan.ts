import type { WebhookConfigRef } from './material.ts';

/** What the planner needs to know about one certificate. */
export interface CertificateFacts {
  fingerprint: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** The serving certificate's facts, its names, and which CA of the bundle signed it (if any). */
export interface ServingFacts extends CertificateFacts {
  /** Subject alternative names, normalised and sorted: `DNS:name`, `IP:address`. */
  names: string[];
  signedBy?: string;
}

/** One webhook configuration as read: per webhook, the fingerprints in its caBundle; none when it does not exist. */
export interface WebhookConfigFacts {
  ref: WebhookConfigRef;
  bundles?: string[][];
}

/** Everything the planner decides from: the Secret, the webhook configurations and what this process serves. */
export interface RotationState {
  /** The CA bundle in the Secret, current CA first. */
  cas: CertificateFacts[];
  /** Whether the Secret holds the key of the current CA. */
  caKeyMatches: boolean;
  /** The serving certificate in the Secret, when present and matched by its key. */
  serving?: ServingFacts;
  caPublishedAt?: Date;
  servingIssuedAt?: Date;
  configs: WebhookConfigFacts[];
  /** Fingerprint of the certificate this process serves now. */
  served?: string;
}

/** When to renew, how long to let the API server catch up, and the names to serve. */
export interface RotationPolicy {
  /** Normalised subject alternative names, as in ServingFacts.names. */
  names: string[];
  /** Renew a certificate when less than this fraction of its lifetime remains. */
  renewFraction: number;
  /** How long the API server needs to pick up a caBundle change. */
  gracePeriodMs: number;
  /** How often every replica re-reads the Secret. */
  checkIntervalMs: number;
}

/** Why an action is taken: a CamelCase reason and a message for the log. */
export interface Why {
  reason: string;
  message: string;
}

/** One step of a rotation, in the order the executor must take them. */
export type RotationAction =
  | ({ type: 'create-ca' | 'issue-serving' | 'reload' } & Why)
  | ({ type: 'drop-old-cas'; keep: string[] } & Why)
  | ({ type: 'publish-bundle'; configs: WebhookConfigRef[] } & Why);

/** The actions that bring the Secret, the webhook configurations and the served certificate in line. */
export function planRotation(
  state: RotationState,
  now: Date,
  policy: RotationPolicy,
): RotationAction[] {
  const createCa = checkCa(state, now, policy);
  const issue = checkServing(state, now, policy, createCa !== undefined);
  const drop = createCa || issue ? undefined : checkOldCas(state, now, policy);
  const publish = checkPublished(state, createCa ?? drop);
  const reload = issue
    ? action('reload', 'ServingIssued', 'serving the newly issued certificate')
    : checkServed(state);
  return [createCa, drop, issue, publish, reload].filter((a) => a !== undefined);
}

function checkCa(
  state: RotationState,
  now: Date,
  policy: RotationPolicy,
): RotationAction | undefined {
  const ca = state.cas[0];
  if (!ca) return action('create-ca', 'CaMissing', 'the Secret holds no CA yet');
  if (!state.caKeyMatches) {
    return action('create-ca', 'CaKeyMissing', 'the Secret lacks the key of its current CA');
  }
  if (nearExpiry(ca, now, policy.renewFraction)) {
    return action('create-ca', 'CaNearExpiry', `CA ${ca.serial} expires at ${iso(ca.notAfter)}`);
  }
  return undefined;
}

function checkServing(
  state: RotationState,
  now: Date,
  policy: RotationPolicy,
  newCa: boolean,
): RotationAction | undefined {
  const urgent = servingUnusable(state, now);
  if (urgent) return { type: 'issue-serving', ...urgent };
  // A certificate from a CA the API server may not trust yet would fail every call: wait.
  if (newCa || !currentCaTrusted(state, now, policy)) return undefined;
  const due = servingDue(state, now, policy);
  return due && { type: 'issue-serving', ...due };
}

/** Reasons the serving certificate cannot be served at all, so waiting would not help. */
function servingUnusable(state: RotationState, now: Date): Why | undefined {
  const serving = state.serving;
  if (!serving) return why('ServingMissing', 'the Secret holds no usable serving certificate');
  if (serving.notAfter <= now) {
    return why('ServingExpired', `serving ${serving.serial} expired at ${iso(serving.notAfter)}`);
  }
  if (!serving.signedBy) {
    return why('ServingUntrusted', `serving ${serving.serial} is signed by no CA in the bundle`);
  }
  return undefined;
}

/** Reasons to replace a serving certificate that still works. */
function servingDue(state: RotationState, now: Date, policy: RotationPolicy): Why | undefined {
  const serving = state.serving;
  if (!serving) return undefined;
  if (serving.names.join(',') !== policy.names.join(',')) {
    return why('ServingNamesChanged', `serving names ${serving.names} != ${policy.names}`);
  }
  if (nearExpiry(serving, now, policy.renewFraction)) {
    return why(
      'ServingNearExpiry',
      `serving ${serving.serial} expires at ${iso(serving.notAfter)}`,
    );
  }
  if (serving.signedBy !== state.cas[0]?.fingerprint) {
    return why('ServingFromOldCa', `serving ${serving.serial} is signed by a previous CA`);
  }
  return undefined;
}

function checkOldCas(
  state: RotationState,
  now: Date,
  policy: RotationPolicy,
): RotationAction | undefined {
  const [current, ...old] = state.cas;
  if (!current || old.length === 0) return undefined;
  if (overlapEnded(state, now, policy)) {
    const message = `nothing signed by ${old.map((ca) => ca.serial)} is served any more`;
    return { type: 'drop-old-cas', keep: [current.fingerprint], ...why('OverlapEnded', message) };
  }
  const live = old.filter((ca) => ca.notAfter > now);
  if (live.length === old.length) return undefined;
  const keep = [current, ...live].map((ca) => ca.fingerprint);
  return { type: 'drop-old-cas', keep, ...why('OldCaExpired', 'a previous CA has expired') };
}

/** True once every replica has had time to pick up a serving certificate from the current CA. */
function overlapEnded(state: RotationState, now: Date, policy: RotationPolicy): boolean {
  const serving = state.serving;
  if (!serving || serving.signedBy !== state.cas[0]?.fingerprint) return false;
  if (state.served !== serving.fingerprint) return false;
  // Other replicas notice the new serving certificate on their next check.
  const settle = policy.gracePeriodMs + policy.checkIntervalMs;
  return elapsed(state.servingIssuedAt, now) >= settle && currentCaTrusted(state, now, policy);
}

/** True when the current CA has been published for the grace period and every configuration holds it. */
function currentCaTrusted(state: RotationState, now: Date, policy: RotationPolicy): boolean {
  const ca = state.cas[0]?.fingerprint;
  const everywhere = state.configs.every((config) =>
    (config.bundles ?? []).every((bundle) => ca !== undefined && bundle.includes(ca)),
  );
  return everywhere && elapsed(state.caPublishedAt, now) >= policy.gracePeriodMs;
}

function checkPublished(
  state: RotationState,
  bundleChange: RotationAction | undefined,
): RotationAction | undefined {
  const present = state.configs.filter((config) => config.bundles !== undefined);
  const want = state.cas.map((ca) => ca.fingerprint).join(',');
  const stale = bundleChange
    ? present
    : present.filter((config) => config.bundles?.some((bundle) => bundle.join(',') !== want));
  if (stale.length === 0) return undefined;
  const configs = stale.map((config) => config.ref);
  return bundleChange
    ? { type: 'publish-bundle', configs, ...why('BundleChanged', 'publishing the new CA bundle') }
    : {
        type: 'publish-bundle',
        configs,
        ...why(
          'BundleDrifted',
          `caBundle of ${configs.map((c) => c.name)} differs from the Secret`,
        ),
      };
}

function checkServed(state: RotationState): RotationAction | undefined {
  const serving = state.serving;
  if (!serving || state.served === serving.fingerprint) return undefined;
  return action('reload', 'ServingChanged', `serving ${serving.serial} from the Secret`);
}

/** True when less than `fraction` of the certificate's lifetime remains. */
function nearExpiry(cert: CertificateFacts, now: Date, fraction: number): boolean {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  return cert.notAfter.getTime() - now.getTime() < lifetime * fraction;
}

/** Milliseconds since `since`; a missing timestamp counts as long ago so a hand-made Secret is not stuck. */
function elapsed(since: Date | undefined, now: Date): number {
  return since ? now.getTime() - since.getTime() : Number.POSITIVE_INFINITY;
}

function action(type: 'create-ca' | 'issue-serving' | 'reload', reason: string, message: string) {
  return { type, reason, message };
}

function why(reason: string, message: string): Why {
  return { reason, message };
}

function iso(date: Date): string {
  return date.toISOString();
}
