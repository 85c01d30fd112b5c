import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { toKubectlYaml, type YamlValue } from './kubectl-yaml.ts';
import { genomeManifest } from './manifest.ts';
import type { Genome } from './genome.ts';

/**
 * Reads YAML as kubectl does: YAML 1.1 (go-yaml), where U+0085, U+2028 and U+2029 are line
 * breaks like LF. The `yaml` package reads the 1.1 schema (yes, on, 0x1F, 0777, 1:20, ...) but
 * not those breaks, so they are made LF first: output that holds one raw then reads back
 * differently, as it does in kubectl.
 */
function readAsKubectl(text: string): unknown {
  return parse(text.replace(/[\u0085\u2028\u2029]/g, '\n'), { version: '1.1' });
}

/** Strings that YAML 1.1 reads as something else, or that break a plain or quoted scalar. */
const TRICKY = [
  'x\u2028y',
  '\u2029',
  'a\u0085b',
  'line\nbreak',
  'cr\r\nlf',
  '\ttab',
  'trailing tab\t',
  ' leading space',
  'trailing space ',
  '',
  ' ',
  'yes',
  'No',
  'ON',
  'off',
  'y',
  'n',
  'true',
  'False',
  'null',
  'Null',
  '~',
  '0x1F',
  '0o17',
  '0777',
  '0b101',
  '1e3',
  'e1',
  'E1',
  '1.5',
  '.inf',
  '-.Inf',
  '.NaN',
  '1:20',
  '190:20:30',
  '12_345',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  '# comment',
  'a #b',
  'key: value',
  'a:b',
  '- item',
  '-',
  '---',
  '...',
  '? q',
  '<<',
  '=',
  '!tag',
  '!!str x',
  '&anchor',
  '*alias',
  '|',
  '>',
  '%YAML 1.1',
  '@at',
  '`tick',
  '"double"',
  "'single'",
  '\\backslash',
  '{a: 1}',
  '[1, 2]',
  ',',
  '\u0000nul',
  '\u0007bell\u001b[31m',
  '\u007f\u0080\u009f',
  '\u00a0nbsp',
  '\ufeffbom',
  '\ufffe\uffff',
  '\u200b\u202e\u2066',
  'é ñ 中文 «»',
  '😀 \u{10ffff} \u{1f1fa}\u{1f1f8}',
];

const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.string({
    unit: fc.constantFrom(
      ...'\u0085\u2028\u2029\n\r\t :#-?,[]{}&*!|>\'"%@`\\~^=<yesnoON0x1F.e+_'.split(''),
      '\u{1f600}',
      '\u0000',
      '\u009b',
      '\ufeff',
    ),
    maxLength: 12,
  }),
  fc.constantFrom(...TRICKY),
  fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9_]{0,3}$/), // keys written plain unless YAML 1.1 words
);
const json = fc.letrec<{ value: YamlValue; object: { [key: string]: YamlValue } }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.constantFrom(0, -1, 2 ** 53 - 1, -(2 ** 53 - 1)),
    text,
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.dictionary(
    text.filter((k) => k !== '__proto__'),
    tie('value'),
    { maxKeys: 5 },
  ),
}));

/** A test name that shows every character outside printable ASCII as an escape. */
const visible = (s: string): string =>
  `"${s.replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`)}"`;

describe('toKubectlYaml', () => {
  it.each(TRICKY.map((s) => [visible(s), s]))(
    'writes %s so that YAML 1.1 reads it back identical, as value and as key',
    (_name, s) => {
      const value = { spec: { value: s, list: [s], [s]: s } };
      const out = toKubectlYaml(value);
      expect(readAsKubectl(out)).toEqual(value);
    },
  );

  it('reads back identical through YAML 1.1 for generated values, keys included', () => {
    fc.assert(
      fc.property(json.object, (value) => {
        expect(readAsKubectl(toKubectlYaml(value))).toEqual(value);
      }),
      { numRuns: 3000 },
    );
  });

  it('writes only printable ASCII and LF, so no YAML dialect can read a character otherwise', () => {
    fc.assert(
      fc.property(json.object, (value) => {
        expect(toKubectlYaml(value)).toMatch(/^[\x20-\x7e\n]*$/);
      }),
      { numRuns: 1000 },
    );
  });

  it('writes the TOTK genome manifest so that it reads back exactly as signed', () => {
    const genome = JSON.parse(
      readFileSync(
        join(import.meta.dirname, '..', 'genomes', 'TOTK_ROOT_v1.0.0', 'genome.json'),
        'utf8',
      ),
    ) as Genome;
    const manifest = genomeManifest(genome, 'totk', 'mathison');
    expect(readAsKubectl(toKubectlYaml(manifest))).toEqual(manifest);
  });
});

describe('toKubectlYaml refuses what it cannot write exactly', () => {
  it.each([
    ['a lone surrogate', { s: '\ud800' }],
    ['a fraction', { n: 1.5 }],
    ['an unsafe integer', { n: 2 ** 60 }],
    ['undefined', { u: undefined }],
  ])('%s', (_name, value) => {
    expect(() => toKubectlYaml(value)).toThrow();
  });
});
