/**
 * A deliberately naive model of upstream Mathison's genome loader (packages/mathison-genome,
 * the version with threshold signatures). It is written from that loader's rules, not from
 * canonical.ts, genome.ts or verify.ts, so that a mistake there does not hide here: JSON.parse;
 * upstream's schema rules (required strings must not be blank); every entry of `signature` and
 * `signatures` checked with WebCrypto against the declared signer of that key id; distinct
 * signers with a valid signature counted against the threshold. A signature that fails or names
 * an undeclared signer only goes uncounted: upstream records it as an error but does not refuse
 * on it by itself. Two users: the property tests that hold canonical.ts and verify.ts to it,
 * and the reference Mathison container (examples/mathison-reference), which boots only on a
 * genome this model loads.
 */
import { createHash } from 'node:crypto';

/** What the model of upstream's loader answers: boots (with the genome id) or refuses. */
export type MathisonAnswer = { ok: true; genomeId: string } | { ok: false; errors: string[] };

type Json = Record<string, unknown>;

/** Returns the canonical JSON upstream signs: no top-level signatures, keys sorted deeply. */
export function mathisonCanonicalJson(genome: object): string {
  const { signature: _a, signatures: _b, ...rest } = genome as Json;
  const sortKeys = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value === null || typeof value !== 'object') return value;
    const sorted: Json = {};
    for (const key of Object.keys(value).sort()) sorted[key] = sortKeys((value as Json)[key]);
    return sorted;
  };
  return JSON.stringify(sortKeys(rest));
}

/** Answers whether upstream's loader would boot with this genome text. */
export async function mathisonLoads(text: string): Promise<MathisonAnswer> {
  let genome: unknown;
  try {
    genome = JSON.parse(text);
  } catch (err) {
    return { ok: false, errors: [`JSON: ${String(err)}`] };
  }
  const errors = schemaErrors(genome);
  if (errors.length > 0) return { ok: false, errors };
  return signatureAnswer(genome as Json);
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null;
const filled = (v: unknown): boolean => typeof v === 'string' && v.trim() !== '';
const listOf = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Field rules, one line each: [what, holds(genome)]. */
const RULES: [string, (g: Json) => boolean][] = [
  ['schema_version', (g) => g.schema_version === 'genome.v0.1'],
  ['name, version, created_at', (g) => [g.name, g.version, g.created_at].every(filled)],
  ['parents', (g) => Array.isArray(g.parents) && g.parents.every((p) => typeof p === 'string')],
  ['authority', (g) => isObject(g.authority) && authorityHolds(g.authority)],
  ['invariants', (g) => Array.isArray(g.invariants) && g.invariants.every(invariantHolds)],
  ['capabilities', (g) => Array.isArray(g.capabilities) && g.capabilities.every(capabilityHolds)],
  ['build_manifest', (g) => isObject(g.build_manifest) && manifestHolds(g.build_manifest)],
  ['signature', (g) => g.signature === undefined || signatureHolds(g.signature)],
  [
    'signatures',
    (g) =>
      g.signatures === undefined ||
      (Array.isArray(g.signatures) && g.signatures.every(signatureHolds)),
  ],
];

function schemaErrors(genome: unknown): string[] {
  if (!isObject(genome)) return ['not an object'];
  return RULES.filter(([, holds]) => !holds(genome)).map(([what]) => what);
}

function authorityHolds(a: Json): boolean {
  const signers = a.signers;
  if (!Array.isArray(signers) || signers.length === 0) return false;
  const signersHold = signers.every(
    (s) => isObject(s) && filled(s.key_id) && s.alg === 'ed25519' && filled(s.public_key),
  );
  const t = a.threshold;
  return signersHold && typeof t === 'number' && t >= 1 && t <= signers.length;
}

function invariantHolds(i: unknown): boolean {
  if (!isObject(i)) return false;
  const severity = ['CRITICAL', 'HIGH', 'MEDIUM'].includes(i.severity as string);
  const texts = typeof i.testable_claim === 'string' && typeof i.enforcement_hook === 'string';
  return filled(i.id) && severity && texts;
}

function capabilityHolds(c: unknown): boolean {
  if (!isObject(c)) return false;
  const risk = ['A', 'B', 'C', 'D'].includes(c.risk_class as string);
  return (
    filled(c.cap_id) && risk && Array.isArray(c.allow_actions) && Array.isArray(c.deny_actions)
  );
}

function manifestHolds(m: Json): boolean {
  return (
    Array.isArray(m.files) &&
    m.files.every((f) => isObject(f) && filled(f.path) && filled(f.sha256))
  );
}

function signatureHolds(s: unknown): boolean {
  return isObject(s) && s.alg === 'ed25519' && filled(s.signer_key_id) && filled(s.sig_base64);
}

async function signatureAnswer(genome: Json): Promise<MathisonAnswer> {
  const all = [
    ...(genome.signature === undefined ? [] : [genome.signature]),
    ...listOf(genome.signatures),
  ];
  if (all.length === 0) return { ok: false, errors: ['no signature(s)'] };
  const bytes = new TextEncoder().encode(mathisonCanonicalJson(genome));
  const signers = listOf((genome.authority as Json).signers) as Json[];
  const valid = new Set<string>();
  for (const signature of all as Json[]) {
    if (await signatureValid(signature, signers, bytes))
      valid.add(signature.signer_key_id as string);
  }
  const threshold = (genome.authority as Json).threshold as number;
  if (valid.size < threshold) {
    return { ok: false, errors: [`${valid.size} valid signer(s), threshold ${threshold}`] };
  }
  return { ok: true, genomeId: createHash('sha256').update(bytes).digest('hex') };
}

async function signatureValid(
  signature: Json,
  signers: Json[],
  bytes: Uint8Array,
): Promise<boolean> {
  const signer = signers.find((s) => s.key_id === signature.signer_key_id);
  if (signer === undefined) return false;
  try {
    const { subtle } = globalThis.crypto;
    const key = await subtle.importKey(
      'spki',
      Buffer.from(signer.public_key as string, 'base64'),
      { name: 'Ed25519' },
      false,
      ['verify'],
    );
    const sig = Buffer.from(signature.sig_base64 as string, 'base64');
    return await subtle.verify({ name: 'Ed25519' }, key, sig, bytes);
  } catch {
    return false;
  }
}
