/**
 * `genome verify`'s inputs: trust files, trust Secret manifests and policy files, read with
 * bounded reads and refused with stable codes (a file is yours to fix).
 */
import { refuse } from '../core/codes.ts';
import { displayText } from '../core/display.ts';
import {
  MAX_TRUST_FILE_BYTES,
  MAX_TRUST_FILES,
  mergeTrustSets,
  parseTrustFile,
  trustFromSecrets,
  type TrustedKey,
  type TrustSecret,
  type TrustSet,
} from '../core/trust.ts';
import type { TrustPolicy } from '../core/trust-policy.ts';
import { MAX_POLICY_FILE_BYTES, readTrustPolicies } from '../core/trust-policy-read.ts';
import { MAX_SECRET_FILE_BYTES, readTrustSecrets } from '../core/trust-secret-read.ts';
import { CliRefusal, POLICY_READ, readTextFile, TRUST_READ } from './io.ts';

/** Most --policy files one command takes. */
export const MAX_POLICY_FILES = 8;

/** The trust files' keys; any refused entry refuses the command (a file is yours to fix). */
function loadTrust(paths: string[]): TrustedKey[] {
  if (paths.length > MAX_TRUST_FILES) {
    const message = `${paths.length} trust files were given, over the limit of ${MAX_TRUST_FILES}`;
    throw new CliRefusal(refuse('TRUST_FILES_TOO_MANY', message));
  }
  const sets: TrustSet[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'trust file', MAX_TRUST_FILE_BYTES, TRUST_READ);
    const set = parseTrustFile(text, displayText(path));
    if (!('keys' in set)) throw new CliRefusal(set);
    sets.push(set);
  }
  // A key id that two files give different keys is refused, not silently overridden.
  const merged = mergeTrustSets(sets);
  const first = merged.problems[0];
  if (first !== undefined) throw new CliRefusal(first);
  return merged.keys;
}

/**
 * The keys of the trust Secrets, read as the cluster reads them (trustFromSecrets): an entry
 * the cluster would not use is not used here either, and is returned as a warning.
 */
function loadSecrets(paths: string[]): TrustSet {
  if (paths.length > MAX_TRUST_FILES) {
    const message = `${paths.length} trust Secret files were given, over the limit of ${MAX_TRUST_FILES}`;
    throw new CliRefusal(refuse('TRUST_FILES_TOO_MANY', message));
  }
  const secrets: TrustSecret[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'trust Secret file', MAX_SECRET_FILE_BYTES, TRUST_READ);
    const read = readTrustSecrets(text, displayText(path));
    if (!Array.isArray(read)) throw new CliRefusal(read);
    secrets.push(...read);
  }
  return trustFromSecrets(secrets);
}

/** The keys of the trust files and the trust Secrets together, and the Secrets' problems. */
export function loadKeys(args: { trustPaths: string[]; secretPaths: string[] }): TrustSet {
  const files = loadTrust(args.trustPaths);
  const secrets = loadSecrets(args.secretPaths);
  // A key id that a file and a Secret give different keys is refused, as between two files.
  const merged = mergeTrustSets([
    { keys: files, problems: [] },
    { ...secrets, problems: [] },
  ]);
  const first = merged.problems[0];
  if (first !== undefined) throw new CliRefusal(first);
  return { keys: merged.keys, problems: secrets.problems };
}

export function loadPolicies(paths: string[]): TrustPolicy[] {
  if (paths.length > MAX_POLICY_FILES) {
    const message = `${paths.length} policy files were given, over the limit of ${MAX_POLICY_FILES}`;
    throw new CliRefusal(refuse('POLICY_INVALID', message));
  }
  const policies: TrustPolicy[] = [];
  for (const path of paths) {
    const text = readTextFile(path, 'policy file', MAX_POLICY_FILE_BYTES, POLICY_READ);
    const read = readTrustPolicies(text, displayText(path));
    if (!Array.isArray(read)) throw new CliRefusal(read);
    const twice = read.find((p) => policies.some((q) => q.name === p.name));
    if (twice !== undefined) {
      const message = `two policies named ${displayText(twice.name)} (the second in ${displayText(path)}); a name is one policy`;
      throw new CliRefusal(refuse('POLICY_INVALID', message, 'metadata.name'));
    }
    policies.push(...read);
  }
  return policies;
}
