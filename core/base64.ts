const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Decodes standard base64 with padding, refusing anything with another encoding of the same
 * bytes (stray characters, missing padding, non-zero trailing bits). Returns undefined when
 * the text is not canonical base64.
 */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!BASE64.test(text)) return undefined;
  // Non-zero padding bits decode fine but are a second spelling of the same bytes.
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (padding > 0) {
    const last = ALPHABET.indexOf(text[text.length - padding - 1] as string);
    if ((last & (padding === 2 ? 0x0f : 0x03)) !== 0) return undefined;
  }
  const bytes = Buffer.from(text, 'base64');
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
