/**
 * Trust policies (GenomeTrustPolicy, docs/trust-policies.md): which trusted keys count for
 * which Genomes, at what quorum, until when, in which mode. `judge` is the one decision the
 * webhook, the operator and the CLI share: from what a genome's document says (GenomeFacts,
 * whose signatures core/verify.ts has checked), the namespace's labels, the policies, the keys
 * and the time. It is arithmetic: no signature is verified here, so a change of policies or
 * keys costs no Ed25519 verification and needs no genome text.
 */
import { refuse, type Refusal, type RefusalCode } from './codes.ts';
import type { Condition } from './conditions.ts';
import { displayValue } from './display.ts';
import { keyFingerprint } from './key-material.ts';
import {
  holderInWindow,
  holdersOf,
  parseRfc3339,
  type KeyHolder,
  type TrustedKey,
} from './trust.ts';

/** What a failing policy does: refuse (Enforce), admit with a warning (Warn), or only report. */
export const POLICY_MODES = ['Enforce', 'Warn', 'Audit'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

/** A label selector, as Kubernetes writes one (metav1.LabelSelector). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: {
    key: string;
    operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
    values?: string[];
  }[];
}

/** A GenomeTrustPolicy's spec (the CRD's schema is core/trust-policy-schema.ts). */
export interface TrustPolicySpec {
  mode: PolicyMode;
  match?: {
    /** The namespaces whose Genomes it governs; absent: every namespace. */
    namespaceSelector?: LabelSelector;
    /** Globs (`*`, `?`) on the genome's signed `name`; absent: every genome. */
    genomeNames?: string[];
  };
  keys?: {
    /** Trust Secrets (in the operator's namespace) whose keys count; absent or []: all of them. */
    secretRefs?: { name: string }[];
    /** Only these key ids of those Secrets; absent or []: all of their keys. */
    keyIds?: string[];
  };
  /** Distinct counted signers needed; the quorum is the larger of this and the genome's own. */
  threshold?: number;
  /** Key ids that must each be among the counted signers. */
  requiredKeyIds?: string[];
  /** Whether keys marked as test keys count (default false). */
  allowTestKeys?: boolean;
  /** A Go duration (`8760h`): a genome whose signed created_at is older is refused. */
  maxAge?: string;
}

/** A policy as the decision takes it: its name and spec. */
export interface TrustPolicy {
  name: string;
  spec: TrustPolicySpec;
  /**
   * Why the policy as stored cannot be read (core/trust-policy-read.ts), if it cannot: it then
   * governs every Genome and is not ready, so they are all refused until it is fixed (fail
   * closed: what it would have required cannot be told).
   */
  problem?: string;
  /** The stored object's metadata.generation (for its status's observedGeneration). */
  generation?: number;
  /** The stored object's status, as the API server has it (the decision never reads it). */
  status?: TrustPolicyStatus;
}

/** A GenomeTrustPolicy's status (written by the operator). */
export interface TrustPolicyStatus {
  observedGeneration?: number;
  conditions?: Condition<'Ready'>[];
  /** Genomes it matches, and of those the verified and the refused. */
  matched?: number;
  verified?: number;
  refused?: number;
}

/**
 * The policy the chart and `make dev` create, named `default`: the flat model (every trust
 * Secret, every namespace and genome, the genome's own threshold, test keys counted; the
 * chart turns allowTestKeys off in production mode). Tighten trust by adding policies: every
 * matching Enforce policy must hold.
 */
export const DEFAULT_TRUST_POLICY: TrustPolicy = {
  name: 'default',
  spec: { mode: 'Enforce', allowTestKeys: true },
};

/**
 * What trust is judged from, of a genome whose checks passed and whose every signature
 * verified (core/verify.ts examineGenome): a few hundred bytes, kept per Genome.
 */
export interface GenomeFacts {
  genomeId: string;
  /** The genome's signed `name`, matched by `match.genomeNames`. */
  name: string;
  /** The signed `created_at`, judged by `maxAge`. */
  createdAt: string;
  /** The genome's own `authority.threshold`. */
  threshold: number;
  /** Every declared signer: key id and the public key it declares (base64 SPKI). */
  declared: { keyId: string; publicKey: string }[];
  /** The key ids that signed (distinct; every signature verified against its declared key). */
  signed: string[];
}

/** Why a signer counted for a policy, or why not. */
export type SignerState =
  | 'counted'
  | 'not trusted'
  | 'not a key of this policy'
  | 'outside its validity window'
  | 'a test key, not allowed by this policy';

/** One signer of the genome, judged by one policy. */
export interface SignerResult {
  keyId: string;
  counted: boolean;
  state: SignerState;
}

/** One matching policy's result for a genome. */
export interface PolicyResult {
  policy: string;
  mode: PolicyMode;
  held: boolean;
  /** Why it does not hold (absent when it holds). */
  code?: RefusalCode;
  message: string;
  signers: SignerResult[];
}

/** What the decision needs besides the genome. */
export interface TrustContext {
  /** The labels of the Genome's namespace. */
  namespaceLabels: Readonly<Record<string, string>>;
  policies: readonly TrustPolicy[];
  /**
   * Every trusted key, with its holders (Secret, test mark, window). A value: judge indexes
   * each array once (by key id, and each policy's readiness), so it is never changed after.
   */
  keys: readonly TrustedKey[];
  /** Epoch milliseconds. */
  now: number;
}

/** The decision: verified or refused, the verified signers, and each matching policy's result. */
export type TrustJudgement = ({ ok: true; signers: string[] } | (Refusal & { ok: false })) & {
  warnings: string[];
  policies: PolicyResult[];
  /**
   * The next instant (epoch ms) at which the judgement may change with time alone: a signer's
   * key entering or leaving its window, or the genome passing a policy's maxAge. Undefined
   * when none is ahead. Judge again then: nothing in the cluster changes at that moment.
   */
  changesAt?: number;
};

/**
 * Judges a genome under the policies. Every matching `Enforce` policy must hold; `Warn` ones
 * that fail add a warning, `Audit` ones only report. A genome that no `Enforce`
 * policy matches is refused (POLICY_NO_MATCH): a `Warn` or `Audit` policy never admits on
 * its own (a genome verified with no trusted signer would be an opt-out).
 * A declared key id that a trusted key has with other key bytes is an impersonation attempt,
 * refused whatever the policies say. Never throws on any policies or keys.
 */
export function judge(facts: GenomeFacts, context: TrustContext): TrustJudgement {
  const judgement = judgeNow(facts, context);
  const changesAt = nextChange(facts, judgement.policies, context);
  return changesAt === undefined ? judgement : { ...judgement, changesAt };
}

function judgeNow(facts: GenomeFacts, context: TrustContext): TrustJudgement {
  const impersonation = impersonated(facts.declared, context.keys);
  if (impersonation !== undefined)
    return { ok: false, ...impersonation, warnings: [], policies: [] };
  const results = [...context.policies]
    .filter((p) => policyMatches(p, context.namespaceLabels, facts.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p) => judgePolicy(p, facts, context));
  const warnings = results
    .filter((r) => r.mode === 'Warn' && !r.held)
    .map((r) => `policy ${r.policy} (Warn) does not hold: ${r.message}`);
  // Only Enforce policies admit: a Warn or Audit one alone would be an opt-out (a genome
  // verified with no trusted signer at all).
  const deciding = results.filter((r) => r.mode === 'Enforce');
  if (deciding.length === 0) {
    const message = `no GenomeTrustPolicy in Enforce mode matches genome ${displayValue(facts.name)} in a namespace with these labels (Warn and Audit ones never admit on their own); add one (docs/trust-policies.md)`;
    return { ok: false, ...refuse('POLICY_NO_MATCH', message), warnings, policies: results };
  }
  const failed = deciding.find((r) => !r.held);
  if (failed !== undefined) {
    const message = `policy ${failed.policy}: ${failed.message}`;
    const code = failed.code ?? 'GENOME_VERIFY_ERROR';
    return { ok: false, ...refuse(code, message), warnings, policies: results };
  }
  const counted = deciding.flatMap(countedOf); // every one held
  const signers = [...new Set(counted)].sort();
  return {
    ok: true,
    signers,
    warnings: [...warnings, ...testKeyWarnings(signers, context)],
    policies: results,
  };
}

/** The next instant after `now` at which time alone may change the judgement, if any. */
function nextChange(
  facts: GenomeFacts,
  results: readonly PolicyResult[],
  context: TrustContext,
): number | undefined {
  const { now } = context;
  const windows = signerWindows(facts.signed, context.keys);
  const created = parseRfc3339(facts.createdAt);
  const matched = new Set(results.map((r) => r.policy));
  const ages = context.policies
    .filter((p) => matched.has(p.name) && p.spec.maxAge !== undefined)
    // Too old from the millisecond after created_at + maxAge (ageRefusal).
    .map((p) => created + (parseDuration(p.spec.maxAge ?? '') ?? 0) + 1)
    .filter((t) => !Number.isNaN(t));
  const ahead = [...windows, ...ages].filter((t) => t > now);
  return ahead.length === 0 ? undefined : Math.min(...ahead);
}

/** The window boundaries of every holder of the signers' keys. */
function signerWindows(signed: readonly string[], keys: readonly TrustedKey[]): number[] {
  const times: number[] = [];
  for (const { notBefore, notAfter } of signed.flatMap((id) =>
    keysWithId(keys, id).flatMap(holdersOf),
  )) {
    if (notBefore !== undefined) times.push(notBefore);
    if (notAfter !== undefined) times.push(notAfter);
  }
  return times;
}

/**
 * What judge looks up in a key set, once per key set: its keys by id (in their order) and
 * each policy's readiness. Key sets and policies are values: judged as given, never changed
 * afterwards (kube/trust-source.ts and kube/trust-view.ts build new ones on every change).
 * Without it, each admission scanned every trusted key several times per matching policy.
 */
interface KeySetIndex {
  byId: Map<string, TrustedKey[]>;
  readiness: WeakMap<TrustPolicy, ReturnType<typeof policyReadiness>>;
}

const keySetIndexes = new WeakMap<readonly TrustedKey[], KeySetIndex>();

function keySetIndex(keys: readonly TrustedKey[]): KeySetIndex {
  let index = keySetIndexes.get(keys);
  if (index === undefined) {
    const byId = new Map<string, TrustedKey[]>();
    for (const key of keys) byId.set(key.keyId, [...(byId.get(key.keyId) ?? []), key]);
    index = { byId, readiness: new WeakMap() };
    keySetIndexes.set(keys, index);
  }
  return index;
}

/** The keys of a key set with this id (usually one), in the set's order. */
function keysWithId(keys: readonly TrustedKey[], keyId: string): readonly TrustedKey[] {
  return keySetIndex(keys).byId.get(keyId) ?? [];
}

/** policyReadiness, computed once per policy and key set. */
function readinessOf(
  policy: TrustPolicy,
  keys: readonly TrustedKey[],
): ReturnType<typeof policyReadiness> {
  const { readiness } = keySetIndex(keys);
  let ready = readiness.get(policy);
  if (ready === undefined) {
    ready = policyReadiness(policy, keys);
    readiness.set(policy, ready);
  }
  return ready;
}

/** Whether a policy governs a genome of this name in a namespace of these labels. */
export function policyMatches(
  policy: TrustPolicy,
  namespaceLabels: Readonly<Record<string, string>>,
  genomeName: string,
): boolean {
  const match = policy.spec.match;
  if (match?.namespaceSelector !== undefined && !selects(match.namespaceSelector, namespaceLabels))
    return false;
  // An empty list restricts nothing, as its absence (as keyIds and secretRefs).
  const globs = match?.genomeNames ?? [];
  return globs.length === 0 || globs.some((g) => globMatches(g, genomeName));
}

/** Whether a label selector selects these labels (an empty selector selects everything). */
export function selects(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>>,
): boolean {
  const has = (key: string) => Object.hasOwn(labels, key);
  // Object.keys, not Object.entries: every policy is matched on every admission.
  const wanted = selector.matchLabels ?? {};
  for (const key of Object.keys(wanted)) if (!has(key) || labels[key] !== wanted[key]) return false;
  return (selector.matchExpressions ?? []).every((e) =>
    requirementHolds(e, has(e.key), labels[e.key]),
  );
}

type Requirement = NonNullable<LabelSelector['matchExpressions']>[number];

/** One matchExpressions entry; an operator we do not know selects nothing (fail closed). */
function requirementHolds(
  { operator, values = [] }: Requirement,
  present: boolean,
  value: string | undefined,
): boolean {
  switch (operator) {
    case 'In':
      return present && values.includes(value ?? '');
    case 'NotIn':
      return !present || !values.includes(value ?? '');
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}

/**
 * Whether a glob (`*` any run of characters, `?` one) matches the whole name. Greedy, with one
 * backtrack point (the last `*`): time at most the name's length times the glob's. A regular
 * expression of several `.*` backtracks polynomially in the name, to the power of the stars:
 * `*a*a*a*a*b` against a tenant's 253-character name took a minute.
 */
export function globMatches(glob: string, name: string): boolean {
  const g = [...glob];
  const n = [...name];
  let gi = 0;
  let ni = 0;
  let star = -1;
  let resume = 0;
  while (ni < n.length) {
    if (g[gi] === '*') {
      star = gi;
      resume = ni;
      gi += 1;
    } else if (gi < g.length && (g[gi] === '?' || g[gi] === n[ni])) {
      gi += 1;
      ni += 1;
    } else if (star === -1) return false;
    else {
      // The last `*` takes one more character, and the rest is matched from there.
      gi = star + 1;
      resume += 1;
      ni = resume;
    }
  }
  while (g[gi] === '*') gi += 1;
  return gi === g.length;
}

/**
 * A Go duration (`8760h`, `1h30m`, `90s`, `500ms`) in milliseconds, or undefined when it is
 * not one. Only non-negative durations in h, m, s and ms: what a maxAge needs.
 */
export function parseDuration(text: string): number | undefined {
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(text)) return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
  let total = 0;
  for (const [, amount, , u] of text.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g))
    total += Number(amount) * (unit[u ?? ''] ?? NaN);
  return Number.isFinite(total) ? total : undefined;
}

/**
 * Whether a policy can decide at all, and why not: every Secret it names must hold a usable
 * key (one that parsed; its window aside). A policy that is not ready refuses what it governs.
 */
export function policyReadiness(
  policy: TrustPolicy,
  keys: readonly TrustedKey[],
): { ready: true } | { ready: false; message: string } {
  if (policy.problem !== undefined) return { ready: false, message: policy.problem };
  const refs = policy.spec.keys?.secretRefs ?? [];
  const held = refs.length === 0 ? undefined : heldSecrets(keys);
  const missing = refs.filter((r) => held?.has(r.name) !== true);
  if (missing.length > 0) {
    const names = missing.map((r) => displayValue(r.name)).join(', ');
    return {
      ready: false,
      message: `trust Secret(s) ${names} are missing or hold no usable key`,
    };
  }
  if (policy.spec.maxAge !== undefined && parseDuration(policy.spec.maxAge) === undefined)
    return {
      ready: false,
      message: `maxAge ${displayValue(policy.spec.maxAge)} is not a duration`,
    };
  const usable = keys.some((k) => holdersOf(k).some((h) => eligible(policy, k, h)));
  return usable
    ? { ready: true }
    : { ready: false, message: 'none of the keys it names is a usable trusted key' };
}

/**
 * The names of the Secrets that hold the keys. Plain loops: on the admission path, for every
 * matching policy, over every trusted key (nested flatMaps took 70 µs for 200 keys).
 */
function heldSecrets(keys: readonly TrustedKey[]): Set<string> {
  const held = new Set<string>();
  for (const key of keys)
    for (const holder of holdersOf(key)) if (holder.secret !== undefined) held.add(holder.secret);
  return held;
}

function judgePolicy(policy: TrustPolicy, facts: GenomeFacts, context: TrustContext): PolicyResult {
  const { name, spec } = policy;
  const base = { policy: name, mode: spec.mode };
  const readiness = readinessOf(policy, context.keys);
  if (!readiness.ready)
    return {
      ...base,
      held: false,
      code: 'POLICY_NOT_READY',
      message: `not ready: ${readiness.message}`,
      signers: [],
    };
  const signers = facts.signed.map((keyId) => judgeSigner(policy, facts, keyId, context));
  const counted = signers.filter((s) => s.counted).map((s) => s.keyId);
  const refusal = quorumRefusal(spec, facts, signers) ?? ageRefusal(spec, facts, context.now);
  if (refusal !== undefined) return { ...base, held: false, ...refusal, signers };
  return { ...base, held: true, message: `held: signed by ${counted.join(', ')}`, signers };
}

function quorumRefusal(
  spec: TrustPolicySpec,
  facts: GenomeFacts,
  signers: readonly SignerResult[],
): Refusal | undefined {
  const counted = signers.filter((s) => s.counted).map((s) => s.keyId);
  const required = Math.max(spec.threshold ?? 1, facts.threshold, 1);
  if (counted.length < required) return shortOfQuorum(facts, signers, counted, required);
  const missing = (spec.requiredKeyIds ?? []).filter((k) => !counted.includes(k));
  if (missing.length === 0) return undefined;
  const states = signers
    .filter((s) => missing.includes(s.keyId))
    .map((s) => `${s.keyId}: ${s.state}`)
    .join('; ');
  return refuse(
    'POLICY_REQUIRED_SIGNER_MISSING',
    `required signer(s) ${missing.join(', ')} did not sign, or do not count (${states || 'no signature'})`,
    'signatures',
  );
}

/** The refusal of a quorum not met: why the signers that did not count did not. */
function shortOfQuorum(
  facts: GenomeFacts,
  signers: readonly SignerResult[],
  counted: readonly string[],
  required: number,
): Refusal {
  const would = (state: SignerState) =>
    counted.length + signers.filter((s) => s.state === state).length >= required;
  const code: RefusalCode = would('outside its validity window')
    ? 'TRUST_KEY_OUTSIDE_WINDOW'
    : would('a test key, not allowed by this policy')
      ? 'GENOME_TEST_KEY_IN_PRODUCTION'
      : counted.length === 0
        ? 'GENOME_UNTRUSTED_SIGNER'
        : 'GENOME_THRESHOLD_NOT_MET';
  const reasons = signers.filter((s) => !s.counted && s.state !== 'not trusted');
  const why =
    reasons.length === 0
      ? ''
      : `; not counted: ${reasons.map((s) => `${s.keyId} (${s.state})`).join(', ')}`;
  const message =
    counted.length === 0
      ? `none of the signers (${facts.signed.join(', ')}) is a trusted key${why}`
      : `${counted.length} distinct trusted signer(s) (${counted.join(', ')}) signed; ${required} required${why}`;
  return refuse(code, message, 'authority.threshold');
}

function ageRefusal(spec: TrustPolicySpec, facts: GenomeFacts, now: number): Refusal | undefined {
  if (spec.maxAge === undefined) return undefined;
  const maxAge = parseDuration(spec.maxAge) ?? 0;
  const created = parseRfc3339(facts.createdAt);
  if (!Number.isNaN(created) && now - created <= maxAge) return undefined;
  return refuse(
    'GENOME_TOO_OLD',
    `created_at ${displayValue(facts.createdAt)} is older than the policy's maxAge ${spec.maxAge}`,
    'created_at',
  );
}

function judgeSigner(
  policy: TrustPolicy,
  facts: GenomeFacts,
  keyId: string,
  context: TrustContext,
): SignerResult {
  const state = signerState(policy, facts, keyId, context);
  return { keyId, counted: state === 'counted', state };
}

function signerState(
  policy: TrustPolicy,
  facts: GenomeFacts,
  keyId: string,
  context: TrustContext,
): SignerState {
  const declared = facts.declared.find((d) => d.keyId === keyId)?.publicKey;
  const key = keysWithId(context.keys, keyId).find((k) => k.key.spkiBase64 === declared);
  if (key === undefined) return 'not trusted';
  const holders = holdersOf(key).filter((h) => eligible(policy, key, h));
  if (holders.length === 0) return 'not a key of this policy';
  const current = holders.filter((h) => holderInWindow(h, context.now));
  if (current.length === 0) return 'outside its validity window';
  if (policy.spec.allowTestKeys !== true && current.every((h) => h.test))
    return 'a test key, not allowed by this policy';
  return 'counted';
}

/** Whether a key, as this holder holds it, is one the policy names. */
function eligible(policy: TrustPolicy, key: TrustedKey, holder: KeyHolder): boolean {
  // An empty list restricts nothing, as its absence (docs/design.md, "Trust policies").
  const refs = policy.spec.keys?.secretRefs ?? [];
  const ids = policy.spec.keys?.keyIds ?? [];
  if (refs.length > 0 && !refs.some((r) => r.name === holder.secret)) return false;
  return ids.length === 0 || ids.includes(key.keyId);
}

/**
 * A declared key id that a trusted key has with other key bytes: an impersonation attempt,
 * refused whatever the policies say (GENOME_UNTRUSTED_SIGNER).
 */
export function impersonated(
  declared: GenomeFacts['declared'],
  keys: readonly TrustedKey[],
): Refusal | undefined {
  for (const [i, signer] of declared.entries()) {
    const key = keysWithId(keys, signer.keyId)[0];
    if (key !== undefined && key.key.spkiBase64 !== signer.publicKey)
      return refuse(
        'GENOME_UNTRUSTED_SIGNER',
        `authority.signers[${i}] names trusted key id ${signer.keyId} with a different public key (${keyFingerprint(signer.publicKey)}); the trusted key is ${keyFingerprint(key.key.spkiBase64)}`,
        `authority.signers[${i}].public_key`,
      );
  }
  return undefined;
}

/**
 * The flat model (no policies: every key counts, test keys too, at the genome's own threshold
 * or `minSigners`), as `verify` and the tools without --policy judge: the same arithmetic as a
 * policy's, without a policy's name in the message.
 */
export function judgeFlat(
  facts: GenomeFacts,
  keys: readonly TrustedKey[],
  options: { minSigners?: number; now?: number } = {},
): { ok: true; signers: string[] } | { ok: false; refusal: Refusal } {
  const refusal = impersonated(facts.declared, keys);
  if (refusal !== undefined) return { ok: false, refusal };
  const flat: TrustPolicy = {
    name: '',
    spec: { mode: 'Enforce', threshold: options.minSigners, allowTestKeys: true },
  };
  const context = { namespaceLabels: {}, policies: [], keys, now: options.now ?? Date.now() };
  const signers = facts.signed.map((keyId) => judgeSigner(flat, facts, keyId, context));
  const failed = quorumRefusal(flat.spec, facts, signers);
  if (failed !== undefined) return { ok: false, refusal: failed };
  return { ok: true, signers: signers.filter((s) => s.counted).map((s) => s.keyId) };
}

function countedOf(result: PolicyResult): string[] {
  return result.signers.filter((s) => s.counted).map((s) => s.keyId);
}

function testKeyWarnings(signers: readonly string[], context: TrustContext): string[] {
  return signers
    .filter((id) => keysWithId(context.keys, id)[0]?.test === true)
    .map((id) => `signed by ${id}, a key marked as a TEST key: replace it before production`);
}
