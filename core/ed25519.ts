import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import * as noble from '@noble/ed25519';

// noble's synchronous API needs a SHA-512; Node's is native and fast.
noble.hashes.sha512 = (message) => new Uint8Array(createHash('sha512').update(message).digest());

/** DER prefix of an Ed25519 SubjectPublicKeyInfo: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }. */
export const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);

/**
 * The order L = 2^252 + 27742317777372353535851937790883648493 of the Ed25519 prime-order
 * subgroup, little-endian, as S is encoded; a signature's S must be below it.
 */
const GROUP_ORDER_LE = Uint8Array.from(
  Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'),
);

/** A validated Ed25519 public key: its raw bytes and a ready-to-use Node key object. */
export interface Ed25519PublicKey {
  raw: Uint8Array;
  spkiBase64: string;
  handle: KeyObject;
}

/**
 * Checks a raw 32-byte public key and returns it ready for verification, or why it is unusable:
 * a non-canonical point encoding, a point not on the curve, a key of small order (the identity
 * key makes the all-zero signature valid for every message), or a key with a torsion component.
 */
export function importEd25519PublicKey(raw: Uint8Array): Ed25519PublicKey | string {
  if (raw.length !== 32) return `an Ed25519 public key is 32 bytes, this one is ${raw.length}`;
  let point: noble.Point;
  try {
    point = noble.Point.fromBytes(raw, false);
  } catch {
    return 'the key is not a canonically encoded point on the Ed25519 curve';
  }
  if (point.isSmallOrder())
    return 'the key is a point of small order, which any signature can match';
  if (!point.isTorsionFree()) return 'the key has a small-order (torsion) component';
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32);
  der.set(ED25519_SPKI_PREFIX);
  der.set(raw, ED25519_SPKI_PREFIX.length);
  const handle = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
  return { raw: Uint8Array.from(raw), spkiBase64: Buffer.from(der).toString('base64'), handle };
}

/** Returns true when S, the second half of a 64-byte signature, is below the group order. */
export function isCanonicalScalar(signature: Uint8Array): boolean {
  // Compare little-endian numbers from the most significant byte down; no allocation.
  for (let i = 31; i >= 0; i -= 1) {
    const s = signature[32 + i] as number;
    const l = GROUP_ORDER_LE[i] as number;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

/**
 * Verifies an Ed25519 signature with Node's built-in (OpenSSL) implementation. Refuses any
 * signature that is not 64 bytes or whose S is not below the group order, before OpenSSL sees
 * it, so the rule does not depend on the OpenSSL version.
 */
export function verifyEd25519(
  key: Ed25519PublicKey,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64 || !isCanonicalScalar(signature)) return false;
  return nodeVerify(null, message, key.handle, signature);
}

/** Verifies with @noble/ed25519 in its strict (non-ZIP-215) mode: the reference we compare to. */
export function verifyEd25519Noble(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return noble.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}
