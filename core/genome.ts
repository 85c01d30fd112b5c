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
  const problem = validateDocument(value, undefined, undefined) ?? checkAuthority(value as Genome);
  if (problem !== undefined) return { ok: false, refusal: problem };
  return { ok: true, genome: value as Genome, nestedKeysSorted: !walk.unsorted };
}

/** State of the current (synchronous) validation walk. */
const walk = { unsorted: false };

/** A field path, built as a linked list and turned into text only when there is a problem. */
type Path = { parent: Path; key: string | number } | undefined;

function pathText(path: Path): string {
  if (path === undefined) return '';
  const parent = pathText(path.parent);
  if (typeof path.key === 'number') return `${parent}[${path.key}]`;
  return parent === '' ? path.key : `${parent}.${path.key}`;
}

/**
 * A validator compiled from a schema node. It gets its parent's path and its own key
 * separately, so that leaves allocate nothing unless they fail.
 */
type Validator = (
  value: unknown,
  parent: Path,
  key: string | number | undefined,
) => Refusal | undefined;

function at(parent: Path, key: string | number | undefined): Path {
  return key === undefined ? parent : { parent, key };
}

function invalid(path: Path, message: string): Refusal {
  const field = pathText(path);
  return refuse('GENOME_INVALID_SCHEMA', `${field || 'genome'}: ${message}`, field || undefined);
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Compiles a schema node once into a closure, so validation walks no schema at run time. */
function compile(node: SchemaNode): Validator {
  switch (node.type) {
    case 'string':
      return compileString(node);
    case 'integer':
      return (value, parent, key) => {
        if (!Number.isSafeInteger(value)) {
          const what = `${typeOf(value)} ${JSON.stringify(value)}`;
          return invalid(at(parent, key), `must be an integer, not ${what}`);
        }
        return node.minimum !== undefined && (value as number) < node.minimum
          ? invalid(at(parent, key), `must be at least ${node.minimum}, not ${value as number}`)
          : undefined;
      };
    case 'array':
      return compileArray(node);
    case 'object':
      return compileObject(node);
  }
}

function compileString(node: Extract<SchemaNode, { type: 'string' }>): Validator {
  const re = node.pattern === undefined ? undefined : new RegExp(node.pattern);
  const problem = (value: unknown): string | undefined => {
    if (typeof value !== 'string') return `must be a string, not ${typeOf(value)}`;
    if (node.enum !== undefined && !node.enum.includes(value)) {
      return `must be one of ${node.enum.join(', ')}, not ${JSON.stringify(value)}`;
    }
    if (node.minLength !== undefined && value.length < node.minLength) return 'must not be empty';
    if (re !== undefined && !re.test(value)) {
      return `${JSON.stringify(value)} does not match ${node.pattern}`;
    }
    return undefined;
  };
  return (value, parent, key) => {
    const message = problem(value);
    return message === undefined ? undefined : invalid(at(parent, key), message);
  };
}

function compileArray(node: Extract<SchemaNode, { type: 'array' }>): Validator {
  const item = compile(node.items);
  return (value, parent, key) => {
    const path = at(parent, key);
    if (!Array.isArray(value)) return invalid(path, `must be an array, not ${typeOf(value)}`);
    if (node.minItems !== undefined && value.length < node.minItems) {
      return invalid(path, `must have at least ${node.minItems} item(s)`);
    }
    if (node.maxItems !== undefined && value.length > node.maxItems) {
      return invalid(path, `must have at most ${node.maxItems} items`);
    }
    for (let i = 0; i < value.length; i += 1) {
      const problem = item(value[i], path, i);
      if (problem !== undefined) return problem;
    }
    return undefined;
  };
}

function compileObject(node: Extract<SchemaNode, { type: 'object' }>): Validator {
  const names = Object.keys(node.properties);
  const checks = names.map((name) => compile(node.properties[name] as SchemaNode));
  const required = names.map((name) => node.required.includes(name));
  return (value, parent, key) => {
    const path = at(parent, key);
    if (typeOf(value) !== 'object') return invalid(path, `must be an object, not ${typeOf(value)}`);
    const object = value as Record<string, unknown>;
    let present = 0;
    for (let i = 0; i < names.length; i += 1) {
      const name = names[i] as string;
      if (!Object.hasOwn(object, name)) {
        if (required[i])
          return unknownField(node, object, path) ?? invalid(at(path, name), 'is required');
        continue;
      }
      present += 1;
      const problem = (checks[i] as Validator)(object[name], path, name);
      if (problem !== undefined) return unknownField(node, object, path) ?? problem;
    }
    return present === countKeys(object, path !== undefined)
      ? undefined
      : unknownField(node, object, path);
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
  path: Path,
): Refusal | undefined {
  const extra = Object.keys(object).find((name) => !Object.hasOwn(node.properties, name));
  return extra === undefined
    ? undefined
    : invalid(at(path, extra), 'is not a field of genome.v0.1');
}

const validateDocument = compile(GENOME_SCHEMA);

function checkAuthority(genome: Genome): Refusal | undefined {
  const { signers, threshold } = genome.authority;
  if (threshold > signers.length) {
    return invalid(
      { parent: { parent: undefined, key: 'authority' }, key: 'threshold' },
      `${threshold} is more than the ${signers.length} declared signer(s)`,
    );
  }
  const seen = new Set<string>();
  for (const [i, signer] of signers.entries()) {
    if (seen.has(signer.key_id)) {
      const at: Path = {
        parent: { parent: { parent: undefined, key: 'authority' }, key: 'signers' },
        key: i,
      };
      return invalid({ parent: at, key: 'key_id' }, `${signer.key_id} is declared twice`);
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
