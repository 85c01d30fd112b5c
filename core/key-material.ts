import { createHash } from 'node:crypto';

/**
 * Recognising private key material where a public key is expected, so that it is refused by
 * name and never echoed. Detection is deliberately loose (any base64 alphabet, padding or
 * whitespace, hex, any PEM private-key type): a false alarm costs a clear message, a miss
 * costs a leaked key in kubectl output, Events and logs.
 */

const PEM_PRIVATE = /-----BEGIN ([A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*)-----/;
const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64_ANY = /^[A-Za-z0-9+/_-]+={0,2}$/;
const OPENSSH_MAGIC = 'openssh-key-v1\u0000';
/** Shortest text worth decoding: 32 bytes of base64. */
const MIN_KEY_CHARS = 40;

/** A field name that says it holds a private key (privateKey, secret_key, seed, JWK "d", ...). */
const PRIVATE_FIELD_NAME = /priv|secret|seed|passw|signing|^d$|^sk$|^pk8$|pkcs8/i;

/**
 * DER that opens like a private key: SEQUENCE { INTEGER 0 or 1, ... }, which is PKCS#8, PKCS#1
 * (RSA) and SEC1 (EC). Public structures (SPKI, certificates) open with a nested SEQUENCE.
 */
export function looksLikeDerPrivateKey(der: Uint8Array): boolean {
  const second = der[1];
  if (der[0] !== 0x30 || second === undefined) return false;
  const headerLength = second & 0x80 ? 2 + (second & 0x7f) : 2;
  return (
    der[headerLength] === 0x02 &&
    der[headerLength + 1] === 0x01 &&
    (der[headerLength + 2] === 0x00 || der[headerLength + 2] === 0x01)
  );
}

/** Decodes hex or base64 (either alphabet, with or without padding or line breaks). */
function decodeLoosely(text: string): Uint8Array | undefined {
  const compact = text.replace(/\s+/g, '');
  if (compact.length < MIN_KEY_CHARS) return undefined;
  if (HEX.test(compact)) return Buffer.from(compact, 'hex');
  if (BASE64_ANY.test(compact)) return Buffer.from(compact, 'base64');
  return undefined;
}

/** What kind of private key raw key bytes are, or undefined. */
export function privateKeyBytesKind(bytes: Uint8Array): string | undefined {
  if (looksLikeDerPrivateKey(bytes)) return 'a DER private key (PKCS#8, PKCS#1 or SEC1)';
  // 64 bytes is the NaCl/libsodium secret key layout: the seed followed by the public key.
  if (bytes.length === 64) return 'a 64-byte NaCl/libsodium secret key';
  if (Buffer.from(bytes.subarray(0, OPENSSH_MAGIC.length)).toString('latin1') === OPENSSH_MAGIC)
    return 'an OpenSSH private key';
  return undefined;
}

/**
 * What kind of private key material a text is (a PEM private-key block of any type, base64 or
 * hex of a DER private key, a 64-byte NaCl secret key or an OpenSSH key), or undefined.
 */
export function privateKeyKind(text: string): string | undefined {
  const pem = PEM_PRIVATE.exec(text);
  if (pem !== null) return `a PEM "${pem[1]}" block`;
  if (text.includes('PuTTY-User-Key-File-')) return 'a PuTTY private key';
  const bytes = decodeLoosely(text);
  return bytes === undefined ? undefined : privateKeyBytesKind(bytes);
}

/**
 * Finds private key material anywhere in a text (a file holding a tool's stdout and stderr
 * together, a JSON document): the whole text, a PEM block, or any word of it.
 */
export function findPrivateKeyMaterial(text: string): string | undefined {
  const whole = privateKeyKind(text);
  if (whole !== undefined) return whole;
  for (const word of text.split(/[^A-Za-z0-9+/=_-]+/)) {
    if (word.length < MIN_KEY_CHARS) continue;
    const kind = privateKeyKind(word);
    if (kind !== undefined) return kind;
  }
  return undefined;
}

/** True for a field name that says it holds private key material. */
export function isPrivateKeyFieldName(name: string): boolean {
  return PRIVATE_FIELD_NAME.test(name);
}

/**
 * A short fingerprint to name a key value in a message without printing it: `sha256:` and the
 * first 8 hex digits of the SHA-256 of the text as given (trimmed).
 */
export function keyFingerprint(text: string): string {
  return `sha256:${createHash('sha256').update(text.trim()).digest('hex').slice(0, 8)}`;
}
