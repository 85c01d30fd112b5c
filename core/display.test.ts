import { describe, expect, it } from 'vitest';
import {
  displayMessage,
  displayText,
  displayValue,
  escapeText,
  MAX_DISPLAY_CHARS,
  MAX_MESSAGE_CHARS,
} from './display.ts';

describe('escapeText', () => {
  it.each([
    ['a line feed and a carriage return', 'a\nb\rc', 'a\\u{a}b\\u{d}c'],
    ['ESC, DEL and a C1 control', '\u001b[2J\u007f\u009b', '\\u{1b}[2J\\u{7f}\\u{9b}'],
    [
      'right-to-left override and isolates',
      '\u202eabc\u2066\u2069',
      '\\u{202e}abc\\u{2066}\\u{2069}',
    ],
    ['zero-width characters', 'a\u200bb\u200dc\ufeffd', 'a\\u{200b}b\\u{200d}c\\u{feff}d'],
    ['a soft hyphen and the Arabic letter mark', '\u00ad\u061c', '\\u{ad}\\u{61c}'],
    ['line and paragraph separators', '\u2028\u2029', '\\u{2028}\\u{2029}'],
    ['spaces other than U+0020', '\u00a0\u3000\u2007', '\\u{a0}\\u{3000}\\u{2007}'],
    ['an astral tag character (Cf)', '\u{e0041}', '\\u{e0041}'],
    ['a lone surrogate', 'a\ud800b', 'a\\u{d800}b'],
    ['a letter that draws nothing', '\u3164', '\\u{3164}'],
    ['a run of more than 8 spaces', `a${' '.repeat(40)}b`, 'a\\u{20}*40b'],
  ])('escapes %s', (_name, text, shown) => {
    expect(escapeText(text)).toBe(shown);
  });

  it.each([
    ['plain text with up to 8 spaces', 'name  1.0.0        x'],
    ['accents, CJK and emoji', 'zwölf Boxkämpfer « 中文 » 😀'],
    ['backslashes and quotes', 'a\\u{20} "b"'],
  ])('leaves %s as it is', (_name, text) => {
    expect(escapeText(text)).toBe(text);
  });

  it('is idempotent: escaping what it printed changes nothing', () => {
    const once = escapeText(`\u202e\n${' '.repeat(20)}\u0000`);
    expect(escapeText(once)).toBe(once);
  });
});

describe('displayText', () => {
  it('clips a long value and says how long it was', () => {
    const shown = displayText('v'.repeat(3_900_000));
    expect(shown).toBe(`${'v'.repeat(MAX_DISPLAY_CHARS)}…[3900000 characters]`);
  });

  it('never splits a surrogate pair when clipping', () => {
    const shown = displayText(`${'a'.repeat(MAX_DISPLAY_CHARS - 1)}😀😀`);
    expect(shown.isWellFormed()).toBe(true);
    expect(shown).toMatch(/…\[\d+ characters\]$/);
  });

  it('escapes after clipping, so the output stays bounded', () => {
    const shown = displayText('\u202e'.repeat(1_000_000));
    expect(shown.length).toBeLessThan(MAX_DISPLAY_CHARS * 10 + 40);
    expect(shown).not.toContain('\u202e');
  });

  it('clips whole messages at MAX_MESSAGE_CHARS', () => {
    expect(displayMessage('m'.repeat(MAX_MESSAGE_CHARS + 1))).toMatch(/…\[4097 characters\]$/);
  });
});

describe('displayValue', () => {
  it('quotes strings as JSON, escaped and clipped', () => {
    expect(displayValue('a"\u202e')).toBe('"a\\"\\u{202e}"');
    expect(displayValue('x'.repeat(1000))).toBe(
      `"${'x'.repeat(MAX_DISPLAY_CHARS)}"…[1000 characters]`,
    );
  });

  it('shows other values as JSON, and never throws', () => {
    expect(displayValue(1.5)).toBe('1.5');
    expect(displayValue({ a: [1] })).toBe('{"a":[1]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => displayValue(cyclic)).not.toThrow();
    expect(displayValue(10n)).toBe('10');
  });
});
