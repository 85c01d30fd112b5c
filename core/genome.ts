import { refuse, type Refusal } from './codes.ts';
import { GENOME_SCHEMA, type SchemaNode } from './genome-schema.ts';
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

/** The result of validation: the typed genome, or the first schema problem with its field path. */
export type GenomeResult = { ok: true; genome: Genome } | { ok: false; refusal: Refusal };

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
  const problem = checkNode(GENOME_SCHEMA, value, '') ?? checkAuthority(value as Genome);
  if (problem !== undefined) return { ok: false, refusal: problem };
  return { ok: true, genome: value as Genome };
}

const compiledPatterns = new Map<string, RegExp>();

function pattern(source: string): RegExp {
  let re = compiledPatterns.get(source);
  if (re === undefined) {
    re = new RegExp(source, 'u');
    compiledPatterns.set(source, re);
  }
  return re;
}

function invalid(field: string, message: string): Refusal {
  return refuse('GENOME_INVALID_SCHEMA', `${field || 'genome'}: ${message}`, field || undefined);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function checkNode(node: SchemaNode, value: unknown, field: string): Refusal | undefined {
  switch (node.type) {
    case 'string':
      return typeof value === 'string'
        ? checkString(node, value, field)
        : invalid(field, `must be a string, not ${typeOf(value)}`);
    case 'integer':
      return Number.isSafeInteger(value)
        ? checkInteger(node.minimum, value as number, field)
        : invalid(field, `must be an integer, not ${typeOf(value)} ${JSON.stringify(value)}`);
    case 'array':
      return Array.isArray(value)
        ? checkArray(node, value, field)
        : invalid(field, `must be an array, not ${typeOf(value)}`);
    case 'object':
      return typeOf(value) === 'object'
        ? checkObject(node, value as Record<string, unknown>, field)
        : invalid(field, `must be an object, not ${typeOf(value)}`);
  }
}

function checkString(
  node: Extract<SchemaNode, { type: 'string' }>,
  value: string,
  field: string,
): Refusal | undefined {
  if (node.enum !== undefined && !node.enum.includes(value)) {
    return invalid(field, `must be one of ${node.enum.join(', ')}, not ${JSON.stringify(value)}`);
  }
  if (node.minLength !== undefined && value.length < node.minLength) {
    return invalid(field, 'must not be empty');
  }
  if (node.pattern !== undefined && !pattern(node.pattern).test(value)) {
    return invalid(field, `${JSON.stringify(value)} does not match ${node.pattern}`);
  }
  return undefined;
}

function checkInteger(minimum: number | undefined, value: number, field: string) {
  return minimum !== undefined && value < minimum
    ? invalid(field, `must be at least ${minimum}, not ${value}`)
    : undefined;
}

function checkArray(
  node: Extract<SchemaNode, { type: 'array' }>,
  value: unknown[],
  field: string,
): Refusal | undefined {
  if (node.minItems !== undefined && value.length < node.minItems) {
    return invalid(field, `must have at least ${node.minItems} item(s)`);
  }
  if (node.maxItems !== undefined && value.length > node.maxItems) {
    return invalid(field, `must have at most ${node.maxItems} items`);
  }
  for (let i = 0; i < value.length; i += 1) {
    const problem = checkNode(node.items, value[i], `${field}[${i}]`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkObject(
  node: Extract<SchemaNode, { type: 'object' }>,
  value: Record<string, unknown>,
  field: string,
): Refusal | undefined {
  const prefix = field === '' ? '' : `${field}.`;
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(node.properties, key)) {
      return invalid(`${prefix}${key}`, 'is not a field of genome.v0.1');
    }
  }
  for (const key of node.required) {
    if (!Object.hasOwn(value, key)) return invalid(`${prefix}${key}`, 'is required');
  }
  for (const [key, child] of Object.entries(node.properties)) {
    if (!Object.hasOwn(value, key)) continue;
    const problem = checkNode(child, value[key], `${prefix}${key}`);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function checkAuthority(genome: Genome): Refusal | undefined {
  const { signers, threshold } = genome.authority;
  if (threshold > signers.length) {
    return invalid(
      'authority.threshold',
      `${threshold} is more than the ${signers.length} declared signer(s)`,
    );
  }
  const seen = new Set<string>();
  for (const [i, signer] of signers.entries()) {
    if (seen.has(signer.key_id)) {
      return invalid(`authority.signers[${i}].key_id`, `${signer.key_id} is declared twice`);
    }
    seen.add(signer.key_id);
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
