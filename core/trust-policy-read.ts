/**
 * Reading GenomeTrustPolicy objects, wherever they come from: a YAML file (the CLI's --policy)
 * or the API server's JSON (the operator and the webhook, on every policy they watch). The
 * spec is checked field by field against TrustPolicySpec with the CRD's bounds
 * (core/trust-policy-schema.ts), and copied: nothing of the input object is kept. An unknown
 * field is refused and named, since a typo in a security policy must not pass silently.
 * Never throws.
 */
import { GENOME_GROUP, GENOME_VERSION } from './api.ts';
import { refuse, type Refusal } from './codes.ts';
import { displayText, displayValue } from './display.ts';
import { KEY_ID_PATTERN } from './genome-schema.ts';
import {
  parseDuration,
  POLICY_MODES,
  type LabelSelector,
  type PolicyMode,
  type TrustPolicy,
  type TrustPolicySpec,
} from './trust-policy.ts';
import {
  DNS_SUBDOMAIN_PATTERN,
  TRUST_POLICY_KIND,
  TRUST_POLICY_LIMITS as LIMITS,
} from './trust-policy-schema.ts';
import { readYamlObjects } from './yaml-documents.ts';

/** Largest policy file read (the CLI's --policy), in bytes. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;

/** Most policies one file may hold (documents, or the items of a List). */
export const MAX_POLICIES_PER_FILE = 256;

const API_VERSION = `${GENOME_GROUP}/${GENOME_VERSION}`;
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
const KEY_ID = new RegExp(KEY_ID_PATTERN);
const DNS_SUBDOMAIN = new RegExp(DNS_SUBDOMAIN_PATTERN);

/** A field that cannot be read: where, and why. Thrown inside this module only. */
class Problem {
  constructor(
    readonly field: string | undefined,
    readonly message: string,
  ) {}
}

function problem(field: string, message: string): never {
  throw new Problem(field === '' ? undefined : field, `${field || 'the object'} ${message}`);
}

const join = (path: string, name: string) =>
  path === '' ? displayText(name, 64) : `${path}.${displayText(name, 64)}`;

function record(value: unknown, path: string, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    problem(path, `must be an object, not ${displayValue(value, 64)}`);
  const prototype = Object.getPrototypeOf(value) as unknown;
  if (prototype !== Object.prototype && prototype !== null) problem(path, 'must be a plain object');
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields))
    if (!allowed.includes(name))
      problem(
        join(path, name),
        `is not a field of ${path || 'a GenomeTrustPolicy'} (its fields: ${allowed.join(', ')})`,
      );
  return fields;
}

/** A field's value read by `read`, or undefined when absent; null is refused, not absent. */
function optional<T>(
  object: Record<string, unknown>,
  name: string,
  path: string,
  read: (value: unknown, path: string) => T,
): T | undefined {
  if (!Object.hasOwn(object, name)) return undefined;
  const value = object[name];
  const here = join(path, name);
  if (value === undefined) return undefined;
  if (value === null) problem(here, 'is null: give it a value, or remove it');
  return read(value, here);
}

function string(value: unknown, path: string, maxLength: number, pattern?: RegExp): string {
  if (typeof value !== 'string') problem(path, `must be a string, not ${displayValue(value, 64)}`);
  if (value.length === 0 || value.length > maxLength)
    problem(path, `must be 1 to ${maxLength} characters long, not ${value.length}`);
  if (pattern !== undefined && !pattern.test(value))
    problem(path, `${displayValue(value)} must match ${pattern.source}`);
  return value;
}

function list<T>(
  value: unknown,
  path: string,
  maxItems: number,
  read: (item: unknown, path: string) => T,
): T[] {
  if (!Array.isArray(value)) problem(path, `must be a list, not ${displayValue(value, 64)}`);
  if (value.length > maxItems)
    problem(path, `holds ${value.length} items, over the limit of ${maxItems}`);
  return value.map((item, i) => read(item, `${path}[${i}]`));
}

const strings =
  (maxItems: number, maxLength: number, pattern?: RegExp) => (value: unknown, path: string) =>
    list(value, path, maxItems, (item, at) => string(item, at, maxLength, pattern));

/** The object without its undefined fields. */
function defined<T extends object>(object: T): T {
  return Object.fromEntries(Object.entries(object).filter(([, v]) => v !== undefined)) as T;
}

function mode(value: unknown, path: string): PolicyMode {
  if (!(POLICY_MODES as readonly unknown[]).includes(value))
    problem(path, `must be one of ${POLICY_MODES.join(', ')}, not ${displayValue(value, 64)}`);
  return value as PolicyMode;
}

function threshold(value: unknown, path: string): number {
  if (
    typeof value !== 'number' ||
    !Number.isInteger(value) ||
    value < 1 ||
    value > LIMITS.threshold
  )
    problem(
      path,
      `must be an integer from 1 to ${LIMITS.threshold}, not ${displayValue(value, 64)}`,
    );
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean')
    problem(path, `must be true or false, not ${displayValue(value, 64)}`);
  return value;
}

function duration(value: unknown, path: string): string {
  const text = string(value, path, 64);
  if (parseDuration(text) === undefined)
    problem(path, `${displayValue(text)} is not a duration in h, m, s or ms (e.g. 8760h, 720h30m)`);
  return text;
}

function labels(value: unknown, path: string): Record<string, string> {
  const map = record(value, path, Object.keys(value ?? {}));
  const entries = Object.entries(map);
  if (entries.length > LIMITS.matchLabels)
    problem(path, `holds ${entries.length} labels, over the limit of ${LIMITS.matchLabels}`);
  for (const [key, label] of entries) {
    string(key, `${path} key`, 317);
    if (typeof label !== 'string' || label.length > 63)
      problem(join(path, key), `must be a label value (a string of at most 63 characters)`);
  }
  return { ...map } as Record<string, string>;
}

type Expression = NonNullable<LabelSelector['matchExpressions']>[number];

function expression(value: unknown, path: string): Expression {
  const fields = record(value, path, ['key', 'operator', 'values']);
  const key = string(fields.key, join(path, 'key'), 317);
  const operator = fields.operator as Expression['operator'];
  if (!OPERATORS.includes(operator))
    problem(
      join(path, 'operator'),
      `must be one of ${OPERATORS.join(', ')}, not ${displayValue(operator, 64)}`,
    );
  const values = optional(fields, 'values', path, strings(LIMITS.expressionValues, 63));
  const needs = operator === 'In' || operator === 'NotIn';
  if (needs !== (values !== undefined && values.length > 0))
    problem(
      join(path, 'values'),
      needs ? `must be a non-empty list for ${operator}` : `must be empty for ${operator}`,
    );
  return defined({ key, operator, values });
}

function selector(value: unknown, path: string): LabelSelector {
  const fields = record(value, path, ['matchLabels', 'matchExpressions']);
  return defined({
    matchLabels: optional(fields, 'matchLabels', path, labels),
    matchExpressions: optional(fields, 'matchExpressions', path, (v, at) =>
      list(v, at, LIMITS.matchExpressions, expression),
    ),
  });
}

function match(value: unknown, path: string): NonNullable<TrustPolicySpec['match']> {
  const fields = record(value, path, ['namespaceSelector', 'genomeNames']);
  return defined({
    namespaceSelector: optional(fields, 'namespaceSelector', path, selector),
    genomeNames: optional(fields, 'genomeNames', path, strings(LIMITS.genomeNames, 253)),
  });
}

function secretRef(value: unknown, path: string): { name: string } {
  const fields = record(value, path, ['name']);
  return { name: string(fields.name, join(path, 'name'), 253, DNS_SUBDOMAIN) };
}

function keys(value: unknown, path: string): NonNullable<TrustPolicySpec['keys']> {
  const fields = record(value, path, ['secretRefs', 'keyIds']);
  return defined({
    secretRefs: optional(fields, 'secretRefs', path, (v, at) =>
      list(v, at, LIMITS.secretRefs, secretRef),
    ),
    keyIds: optional(fields, 'keyIds', path, strings(LIMITS.keyIds, 253, KEY_ID)),
  });
}

const SPEC_FIELDS = [
  'mode',
  'match',
  'keys',
  'threshold',
  'requiredKeyIds',
  'allowTestKeys',
  'maxAge',
];

function spec(value: unknown, path: string): TrustPolicySpec {
  const fields = record(value, path, SPEC_FIELDS);
  if (fields.mode === undefined)
    problem(join(path, 'mode'), `is required (${POLICY_MODES.join(', ')})`);
  return defined({
    mode: mode(fields.mode, join(path, 'mode')),
    match: optional(fields, 'match', path, match),
    keys: optional(fields, 'keys', path, keys),
    threshold: optional(fields, 'threshold', path, threshold),
    requiredKeyIds: optional(
      fields,
      'requiredKeyIds',
      path,
      strings(LIMITS.requiredKeyIds, 253, KEY_ID),
    ),
    allowTestKeys: optional(fields, 'allowTestKeys', path, boolean),
    maxAge: optional(fields, 'maxAge', path, duration),
  });
}

function policy(object: unknown): TrustPolicy {
  const top = record(object, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);
  if (top.kind !== TRUST_POLICY_KIND)
    problem('kind', `must be ${TRUST_POLICY_KIND}, not ${displayValue(top.kind, 64)}`);
  if (top.apiVersion !== API_VERSION)
    problem('apiVersion', `must be ${API_VERSION}, not ${displayValue(top.apiVersion, 64)}`);
  // metadata: only the name is read; the API server's other fields (uid, labels, ...) are not.
  const metadata = record(top.metadata, 'metadata', Object.keys(top.metadata ?? {}));
  const name = string(metadata.name, 'metadata.name', 253, DNS_SUBDOMAIN);
  try {
    if (top.spec === undefined) problem('spec', 'is required');
    return { name, spec: spec(top.spec, 'spec') };
  } catch (err) {
    if (err instanceof Problem)
      throw new Problem(err.field, `GenomeTrustPolicy ${displayValue(name)}: ${err.message}`);
    throw err;
  }
}

/**
 * Reads one GenomeTrustPolicy object (from YAML or the API server's JSON): apiVersion, kind,
 * metadata.name, and the spec exactly as TrustPolicySpec, within the CRD's bounds. Returns a
 * fresh copy, or POLICY_INVALID naming the field. Never throws, whatever it is given.
 */
export function readTrustPolicy(object: unknown): TrustPolicy | Refusal {
  try {
    return policy(object);
  } catch (err) {
    if (err instanceof Problem) return refuse('POLICY_INVALID', err.message, err.field);
    const why = err instanceof Error ? err.message : 'an unexpected value';
    return refuse(
      'POLICY_INVALID',
      `a GenomeTrustPolicy cannot be read (${displayText(why, 200)})`,
    );
  }
}

/**
 * Reads a policy file: YAML documents, each a GenomeTrustPolicy or a `kind: List` of them
 * (what `kubectl get gtp -o yaml` prints), at most MAX_POLICY_FILE_BYTES and
 * MAX_POLICIES_PER_FILE policies, names distinct. Returns the policies, or POLICY_INVALID
 * saying where (`source`, document, item) and what. Never throws.
 */
export function readTrustPolicies(yamlText: string, source: string): TrustPolicy[] | Refusal {
  const objects = readYamlObjects(yamlText, source, {
    maxBytes: MAX_POLICY_FILE_BYTES,
    maxObjects: MAX_POLICIES_PER_FILE,
    unreadable: 'POLICY_INVALID',
    tooLarge: 'POLICY_INVALID',
  });
  if ('code' in objects) return objects;
  const policies: TrustPolicy[] = [];
  for (const { value, where } of objects) {
    const read = readTrustPolicy(value);
    if ('code' in read)
      return refuse(read.code, `${source}, ${where}: ${read.message}`, read.field);
    if (policies.some((p) => p.name === read.name))
      return refuse(
        'POLICY_INVALID',
        `${source}, ${where}: two policies named ${displayValue(read.name)}; a name is one policy`,
        'metadata.name',
      );
    policies.push(read);
  }
  return policies;
}
