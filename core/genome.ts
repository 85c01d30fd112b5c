import { refuse, type Refusal, type RefusalCode } from './codes.ts';
import { displayText, displayValue } from './display.ts';
import { GENOME_SCHEMA, type SchemaNode } from './genome-schema.ts';
import { keyFingerprint, privateKeyKind } from './key-material.ts';
import { parseStrictJson, type JsonValue } from './strict-json.ts';

/** A signature entry of a genome. */
export interface GenomeSignature {
  alg: 'ed25519';
  signer_key_id: string;
  sig_base64: string;
}

/** A declared signer of a genome. */
export interface GenomeSigner {
  key_id: string;
  alg: 'ed25519';
  public_key: string;
}

/** A genome.v0.1 document that has passed validateGenome. */
export interface Genome {
  schema_version: 'genome.v0.1';
  name: string;
  version: string;
  parents: string[];
  created_at: string;
  authority: { signers: GenomeSigner[]; threshold: number };
  invariants: {
    id: string;
    severity: 'CRITICAL' | 'HIGH' | 'MEDIUM';
    testable_claim: string;
    enforcement_hook: string;
  }[];
  capabilities: {
    cap_id: string;
    risk_class: 'A' | 'B' | 'C' | 'D';
    allow_actions: string[];
    deny_actions: string[];
  }[];
  build_manifest: { files: { path: string; sha256: string }[] };
  signature?: GenomeSignature;
  signatures?: GenomeSignature[];
}

/**
 * The result of validation: the typed genome, or the first schema problem with its field path.
 * `nestedKeysSorted` says whether every object below the top level already enumerates its keys
 * in sorted order (as the API server sends them), which lets canonicalJson skip a rebuild.
 */
export type GenomeResult =
  { ok: true; genome: Genome; nestedKeysSorted: boolean } | { ok: false; refusal: Refusal };

/**
 * Parses genome text strictly (see parseStrictJson) and validates it as genome.v0.1.
 * Never throws.
 */
export function parseGenome(text: string): GenomeResult {
  const parsed = parseStrictJson(text);
  if (!parsed.ok) return parsed;
  return validateGenome(parsed.value);
}

/**
 * Validates a JSON value as genome.v0.1: every required field present with the right type,
 * no field outside the format, and the cross-field rules (threshold within the signers,
 * distinct signer ids). Never throws. Values from JSON.parse are accepted, but callers that
 * start from text should use parseGenome so that ambiguous JSON is refused first.
 */
export function validateGenome(value: unknown): GenomeResult {
  walk.unsorted = false;
  const problem = validateDocument(value) ?? checkAuthority(value as Genome);
  if (problem !== undefined) return { ok: false, refusal: toRefusal(problem) };
  return { ok: true, genome: value as Genome, nestedKeysSorted: !walk.unsorted };
}

/** State of the current (synchronous) validation walk. */
const walk = { unsorted: false };

/**
 * A schema problem: the message, and the path from the value that was checked down to the
 * field. Parents prepend their key as the problem travels up, so a valid document allocates
 * no path at all.
 */
interface Problem {
  segments: (string | number)[];
  message: string;
  /** The code, when it is not GENOME_INVALID_SCHEMA. */
  code?: RefusalCode;
}

/** A validator compiled from a schema node. */
type Validator = (value: unknown) => Problem | undefined;

const fail = (message: string, ...segments: (string | number)[]): Problem => ({
  segments,
  message,
});

function within(key: string | number, problem: Problem): Problem {
  problem.segments.unshift(key);
  return problem;
}

/** A key of the input, escaped; one that looks like private key material is not shown. */
function displayKey(key: string): string {
  return privateKeyKind(key) === undefined
    ? displayText(key)
    : `(a private key, ${keyFingerprint(key)})`;
}

function toRefusal(problem: Problem): Refusal {
  // A segment can be a key from the input (an unknown field): escaped and clipped here.
  const field = problem.segments
    .map((s, i) =>
      typeof s === 'number' ? `[${s}]` : i === 0 ? displayKey(s) : `.${displayKey(s)}`,
    )
    .join('');
  const code = problem.code ?? 'GENOME_INVALID_SCHEMA';
  // The field travels separately; each front end (CLI, webhook, status) shows it its own way.
  if (field === '') return refuse(code, `the document ${problem.message}`);
  return refuse(code, problem.message, field);
}

/** A key field (keyMaterial in the schema) that holds a private key: named, never shown. */
function privateKeyProblem(kind: string, field: 'public-key' | 'key-id' | 'signature'): Problem {
  const what = { 'public-key': 'a public key', 'key-id': 'a key id', signature: 'a signature' };
  const message = `holds a PRIVATE key (${kind}), not ${what[field]}; it is not shown. Remove it from the genome and rotate the key: whoever saw this genome can sign with it`;
  return { segments: [], message, code: 'PRIVATE_KEY_EXPOSED' };
}

/**
 * Why a public key field does not match its pattern; the value itself is never shown (a
 * fingerprint names it).
 */
function publicKeyProblem(value: string): Problem {
  return fail(
    `is not the base64 SPKI DER of an Ed25519 public key (60 characters starting MCowBQYDK2VwAyEA); the value (${value.length} characters, ${keyFingerprint(value)}) is not shown`,
  );
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

const plainString: Validator = (value) =>
  typeof value === 'string' ? undefined : fail(`must be a string, not ${typeOf(value)}`);

/** Compiles a schema node once into a closure, so validation walks no schema at run time. */
function compile(node: SchemaNode, nested = true): Validator {
  switch (node.type) {
    case 'string':
      return isPlainString(node) ? plainString : compileString(node);
    case 'integer':
      return (value) => {
        if (!Number.isSafeInteger(value)) {
          return fail(`must be an integer, not ${typeOf(value)} ${displayValue(value)}`);
        }
        return node.minimum !== undefined && (value as number) < node.minimum
          ? fail(`must be at least ${node.minimum}, not ${value as number}`)
          : undefined;
      };
    case 'array':
      return compileArray(node);
    case 'object':
      return compileObject(node, nested);
  }
}

function compileString(node: Extract<SchemaNode, { type: 'string' }>): Validator {
  // Specialised at compile time: most strings need only the type check.
  const checks: ((value: string) => string | undefined)[] = [];
  if (node.enum !== undefined) {
    const allowed = new Set(node.enum);
    const list = node.enum.join(', ');
    checks.push((v) =>
      allowed.has(v) ? undefined : `must be one of ${list}, not ${displayValue(v)}`,
    );
  }
  const minLength = node.minLength;
  if (minLength !== undefined)
    checks.push((v) => (v.length < minLength ? 'must not be empty' : undefined));
  const pattern = node.pattern;
  if (node.keyMaterial !== undefined && pattern !== undefined) {
    const re = new RegExp(pattern);
    const keyMaterial = node.keyMaterial;
    return (value) => {
      if (typeof value !== 'string') return fail(`must be a string, not ${typeOf(value)}`);
      const matches = re.test(value);
      if (matches && keyMaterial !== 'key-id') return undefined;
      const kind = privateKeyKind(value);
      if (kind !== undefined) return privateKeyProblem(kind, keyMaterial);
      if (matches) return undefined;
      if (keyMaterial === 'public-key') return publicKeyProblem(value);
      return fail(`${displayValue(value)} does not match ${pattern}`);
    };
  }
  if (node.notBlank === true) {
    // Upstream's loader refuses these when blank, so a Mathison pod would not boot with it.
    checks.push((v) => (v.trim() === '' ? 'must not be blank: Mathison refuses it' : undefined));
  }
  if (pattern !== undefined) {
    const re = new RegExp(pattern);
    checks.push((v) => (re.test(v) ? undefined : `${displayValue(v)} does not match ${pattern}`));
  }
  return (value) => {
    if (typeof value !== 'string') return fail(`must be a string, not ${typeOf(value)}`);
    for (const check of checks) {
      const message = check(value);
      if (message !== undefined) return fail(message);
    }
    return undefined;
  };
}

/** True for a schema that accepts any string: its items need only a typeof check. */
function isPlainString(node: SchemaNode): boolean {
  return (
    node.type === 'string' &&
    node.enum === undefined &&
    node.pattern === undefined &&
    node.minLength === undefined &&
    node.notBlank === undefined
  );
}

function compileArray(node: Extract<SchemaNode, { type: 'array' }>): Validator {
  const item = isPlainString(node.items) ? plainString : compile(node.items);
  return (value) => {
    if (!Array.isArray(value)) return fail(`must be an array, not ${typeOf(value)}`);
    if (node.minItems !== undefined && value.length < node.minItems) {
      return fail(`must have at least ${node.minItems} item(s)`);
    }
    if (node.maxItems !== undefined && value.length > node.maxItems) {
      return fail(`must have at most ${node.maxItems} items`);
    }
    for (let i = 0; i < value.length; i += 1) {
      const problem = item(value[i]);
      if (problem !== undefined) return within(i, problem);
    }
    return undefined;
  };
}

function compileObject(node: Extract<SchemaNode, { type: 'object' }>, nested: boolean): Validator {
  const names = Object.keys(node.properties);
  const checks = names.map((name) => compile(node.properties[name] as SchemaNode));
  const required = names.map((name) => node.required.includes(name));
  return (value) => {
    if (typeOf(value) !== 'object') return fail(`must be an object, not ${typeOf(value)}`);
    const object = value as Record<string, unknown>;
    let present = 0;
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i] as string;
      if (!Object.hasOwn(object, name)) {
        if (required[i]) return unknownField(node, object) ?? fail('is required', name);
        continue;
      }
      present += 1;
      const problem = (checks[i] as Validator)(object[name]);
      if (problem !== undefined) return unknownField(node, object) ?? within(name, problem);
    }
    return present === countKeys(object, nested) ? undefined : unknownField(node, object);
  };
}

/** Counts an object's keys without allocating, noting in `walk` when they are out of order. */
function countKeys(object: Record<string, unknown>, nested: boolean): number {
  let count = 0;
  let previous = '';
  for (const name in object) {
    if (nested && count > 0 && !(previous < name)) walk.unsorted = true;
    previous = name;
    count += 1;
  }
  return count;
}

/** Reports the first key outside the format; checked first whenever an object fails. */
function unknownField(
  node: Extract<SchemaNode, { type: 'object' }>,
  object: Record<string, unknown>,
): Problem | undefined {
  const extra = Object.keys(object).find((name) => !Object.hasOwn(node.properties, name));
  return extra === undefined ? undefined : fail('is not a field of genome.v0.1', extra);
}

const validateDocument = compile(GENOME_SCHEMA, false);

function checkAuthority(genome: Genome): Problem | undefined {
  const { signers, threshold } = genome.authority;
  if (threshold > signers.length) {
    const message = `${threshold} is more than the ${signers.length} declared signer(s)`;
    return fail(message, 'authority', 'threshold');
  }
  const ids = new Set<string>();
  const keys = new Set<string>();
  for (const [i, signer] of signers.entries()) {
    if (ids.has(signer.key_id)) {
      return fail(`${signer.key_id} is declared twice`, 'authority', 'signers', i, 'key_id');
    }
    // One key under two ids would let one key holder count twice toward the threshold.
    if (keys.has(signer.public_key)) {
      const message = 'this public key is already declared under another key_id';
      return fail(message, 'authority', 'signers', i, 'public_key');
    }
    ids.add(signer.key_id);
    keys.add(signer.public_key);
  }
  return undefined;
}

/** Returns every signature a genome carries: `signature` first, then `signatures`. */
export function signaturesOf(genome: Genome): GenomeSignature[] {
  const all: GenomeSignature[] = [];
  if (genome.signature !== undefined) all.push(genome.signature);
  if (genome.signatures !== undefined) all.push(...genome.signatures);
  return all;
}

/** Re-exported for callers that hold parsed JSON. */
export type { JsonValue };
