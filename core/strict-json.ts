import { refuse, type Refusal } from './codes.ts';
import { displayText, displayValue } from './display.ts';

/** A JSON value as the strict parser returns it. */
export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** The result of a strict parse: the value, or a GENOME_UNREADABLE refusal with a position. */
export type ParseResult = { ok: true; value: JsonValue } | { ok: false; refusal: Refusal };

/** Nesting deeper than this is refused: a genome needs five levels, hostile input needs a stack. */
export const MAX_JSON_DEPTH = 64;

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings
const CONTROL_CHAR = /[\u0000-\u001f]/;

class StrictJsonError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/**
 * Parses JSON text, refusing what two JSON parsers could read differently: duplicate keys,
 * lone UTF-16 surrogates (raw or escaped), numbers that are not finite or are integers beyond
 * 2^53, a byte-order mark, and nesting deeper than MAX_JSON_DEPTH. Never throws.
 */
export function parseStrictJson(text: string): ParseResult {
  const parser = new Parser(text);
  try {
    const value = parser.parseDocument();
    return { ok: true, value };
  } catch (err) {
    if (err instanceof StrictJsonError) {
      const { line, column } = lineAndColumn(text, err.offset);
      return {
        ok: false,
        refusal: refuse('GENOME_UNREADABLE', `${err.message} at line ${line}, column ${column}`),
      };
    }
    throw err;
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line += 1;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

class Parser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly text: string) {}

  parseDocument(): JsonValue {
    if (this.text.charCodeAt(0) === 0xfeff) throw new StrictJsonError('byte-order mark', 0);
    this.skipWhitespace();
    if (this.pos >= this.text.length) throw new StrictJsonError('empty document', 0);
    const value = this.parseValue();
    this.skipWhitespace();
    if (this.pos < this.text.length) {
      throw new StrictJsonError('unexpected text after the JSON value', this.pos);
    }
    return value;
  }

  private skipWhitespace(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      pos += 1;
    }
    this.pos = pos;
  }

  private parseValue(): JsonValue {
    const c = this.text[this.pos];
    switch (c) {
      case '{':
        return this.nested(() => this.parseObject());
      case '[':
        return this.nested(() => this.parseArray());
      case '"':
        return this.parseString();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        return this.parseNumber();
    }
  }

  private nested(parse: () => JsonValue): JsonValue {
    this.depth += 1;
    if (this.depth > MAX_JSON_DEPTH) {
      throw new StrictJsonError(`nesting deeper than ${MAX_JSON_DEPTH} levels`, this.pos);
    }
    const value = parse();
    this.depth -= 1;
    return value;
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.pos)) {
      throw new StrictJsonError('unexpected character', this.pos);
    }
    this.pos += word.length;
    return value;
  }

  private parseNumber(): number {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (match === null) {
      const what =
        this.pos >= this.text.length ? 'unexpected end of input' : 'unexpected character';
      throw new StrictJsonError(what, this.pos);
    }
    const value = Number(match[0]);
    if (!Number.isFinite(value)) {
      throw new StrictJsonError(
        `number ${displayText(match[0])} is not finite as a double`,
        this.pos,
      );
    }
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      throw new StrictJsonError(
        `number ${displayText(match[0])} is beyond the exact integer range (2^53)`,
        this.pos,
      );
    }
    this.pos += match[0].length;
    return value;
  }

  private parseString(): string {
    const start = this.pos;
    const end = this.closingQuote(start);
    const value = decodeString(this.text.slice(start, end + 1), start);
    if (!value.isWellFormed()) throw new StrictJsonError('lone UTF-16 surrogate in string', start);
    this.pos = end + 1;
    return value;
  }

  /** Where the string that opens at `start` closes: the next quote not escaped by a backslash. */
  private closingQuote(start: number): number {
    const text = this.text;
    for (let end = start + 1; ; end += 1) {
      end = text.indexOf('"', end);
      if (end === -1) throw new StrictJsonError('unterminated string', start);
      let backslashes = 0;
      while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes += 1;
      if (backslashes % 2 === 0) return end;
    }
  }

  private parseArray(): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos += 1;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      out.push(this.parseValue());
      if (this.endOfContainer(']')) return out;
    }
  }

  private parseObject(): { [key: string]: JsonValue } {
    const out: { [key: string]: JsonValue } = {};
    this.pos += 1;
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return out;
    }
    for (;;) {
      this.skipWhitespace();
      const keyAt = this.pos;
      if (this.text[keyAt] !== '"') throw new StrictJsonError('expected a string key', keyAt);
      const key = this.parseString();
      if (Object.hasOwn(out, key))
        throw new StrictJsonError(`duplicate key ${displayValue(key)}`, keyAt);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') throw new StrictJsonError('expected ":"', this.pos);
      this.pos += 1;
      this.skipWhitespace();
      // defineProperty so that a key named __proto__ is data, never a prototype change.
      Object.defineProperty(out, key, {
        value: this.parseValue(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      if (this.endOfContainer('}')) return out;
    }
  }

  /** Consumes "," (returns false) or the closing bracket (returns true). */
  private endOfContainer(close: ']' | '}'): boolean {
    this.skipWhitespace();
    const c = this.text[this.pos];
    this.pos += 1;
    if (c === ',') return false;
    if (c === close) return true;
    const what = c === undefined ? 'unexpected end of input' : `expected "," or "${close}"`;
    throw new StrictJsonError(what, this.pos - 1);
  }
}

/** The value of a string literal `raw` (quotes included) that opened at `at`. */
function decodeString(raw: string, at: number): string {
  if (!raw.includes('\\')) {
    if (CONTROL_CHAR.test(raw)) throw new StrictJsonError('control character in string', at);
    return raw.slice(1, -1);
  }
  try {
    return JSON.parse(raw) as string;
  } catch {
    throw new StrictJsonError('invalid string escape or control character', at);
  }
}
