const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The value of each base64 character, indexed by char code; -1 for every other character. */
const SEXTETS = Int8Array.from({ length: 128 }, (_, code) =>
  ALPHABET.indexOf(String.fromCharCode(code)),
);

/**
 * Decodes standard base64 with padding, refusing anything with another encoding of the same
 * bytes (stray characters, missing padding, non-zero trailing bits). Returns undefined when
 * the text is not canonical base64.
 *
 * Decoded here rather than with Buffer.from: it sits on the verification hot path, and Node's
 * decoder, though fast on its own, made the OpenSSL verification that follows it measurably
 * slower (docs/benchmarks.md).
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const bytes = new Uint8Array((text.length / 4) * 3 - padding);
  const whole = padding === 0 ? text.length : text.length - 4;
  let invalid = 0;
  for (let i = 0, at = 0; i < whole; i += 4, at += 3) {
    const a = sextet(text, i);
    const b = sextet(text, i + 1);
    const c = sextet(text, i + 2);
    const d = sextet(text, i + 3);
    invalid |= a | b | c | d; // negative once any character was not base64
    const group = (a << 18) | (b << 12) | (c << 6) | d;
    bytes[at] = group >> 16;
    bytes[at + 1] = group >> 8;
    bytes[at + 2] = group;
  }
  if (invalid < 0) return undefined;
  return padding === 0 || decodeLastGroup(text, whole, padding, bytes) ? bytes : undefined;
}

/**
 * Decodes the padded last group into the end of `bytes`. False when it holds a character
 * outside the alphabet or non-zero padding bits (a second spelling of the same bytes).
 */
function decodeLastGroup(text: string, at: number, padding: 1 | 2, bytes: Uint8Array): boolean {
  const a = sextet(text, at);
  const b = sextet(text, at + 1);
  const c = padding === 1 ? sextet(text, at + 2) : 0;
  if ((a | b | c) < 0) return false;
  if (padding === 2 ? (b & 0x0f) !== 0 : (c & 0x03) !== 0) return false;
  const end = bytes.length;
  if (padding === 2) {
    bytes[end - 1] = (a << 2) | (b >> 4);
  } else {
    bytes[end - 2] = (a << 2) | (b >> 4);
    bytes[end - 1] = (b << 4) | (c >> 2);
  }
  return true;
}

/** The value of the base64 character at index i, or -1. */
function sextet(text: string, i: number): number {
  const code = text.charCodeAt(i);
  return code < 128 ? (SEXTETS[code] as number) : -1;
}
