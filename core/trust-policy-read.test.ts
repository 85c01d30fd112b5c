import { describe, expect, it } from 'vitest';
import { globMatches, type TrustPolicy } from './trust-policy.ts';
import { MAX_POLICY_FILE_BYTES, readTrustPolicies, readTrustPolicy } from './trust-policy-read.ts';
import { TRUST_POLICY_LIMITS } from './trust-policy-schema.ts';

const policy = (spec: unknown, name: unknown = 'production', extra: object = {}) => ({
  apiVersion: 'mathison.io/v1alpha1',
  kind: 'GenomeTrustPolicy',
  metadata: { name },
  spec,
  ...extra,
});

const FULL = {
  mode: 'Enforce',
  match: {
    namespaceSelector: {
      matchLabels: { env: 'production' },
      matchExpressions: [
        { key: 'team', operator: 'In', values: ['a', 'b'] },
        { key: 'sandbox', operator: 'DoesNotExist' },
      ],
    },
    genomeNames: ['TOTK_*'],
  },
  keys: { secretRefs: [{ name: 'prod-signers' }], keyIds: ['prod-1', 'prod-2'] },
  threshold: 2,
  requiredKeyIds: ['security-officer-1'],
  allowTestKeys: false,
  maxAge: '8760h',
};

/** The refusal's code and field, or the policy read. */
const read = (value: unknown) => {
  const out = readTrustPolicy(value);
  return 'code' in out ? { code: out.code, field: out.field, message: out.message } : out;
};

describe('readTrustPolicy', () => {
  it('reads every field of the spec, as TrustPolicySpec has it', () => {
    expect(readTrustPolicy(policy(FULL))).toEqual({ name: 'production', spec: FULL });
  });

  it('reads a minimal policy, and an object as the API server sends it (metadata, status)', () => {
    const served = policy({ mode: 'Audit' }, 'audit', {
      status: { observedGeneration: 3, conditions: [] },
    });
    (served.metadata as Record<string, unknown>).uid = 'abc';
    (served.metadata as Record<string, unknown>).managedFields = [{ manager: 'kubectl' }];
    expect(readTrustPolicy(served)).toEqual({ name: 'audit', spec: { mode: 'Audit' } });
  });

  it('returns a copy: nothing of the input object is kept', () => {
    const input = policy(structuredClone(FULL)) as { spec: typeof FULL };
    const out = readTrustPolicy(input) as TrustPolicy;
    input.spec.match.genomeNames.push('OTHER');
    input.spec.keys.secretRefs[0]!.name = 'changed';
    expect(out.spec).toEqual(FULL);
  });

  it.each([
    ['not an object', 'production', 'POLICY_INVALID', undefined],
    ['another kind', { ...policy(FULL), kind: 'Genome' }, 'POLICY_INVALID', 'kind'],
    [
      'another version',
      { ...policy(FULL), apiVersion: 'mathison.io/v1' },
      'POLICY_INVALID',
      'apiVersion',
    ],
    ['no name', { ...policy(FULL), metadata: {} }, 'POLICY_INVALID', 'metadata.name'],
    [
      'a name that is not a DNS subdomain',
      policy(FULL, 'Prod_1'),
      'POLICY_INVALID',
      'metadata.name',
    ],
    ['no spec', { ...policy(FULL), spec: undefined }, 'POLICY_INVALID', 'spec'],
    ['no mode', policy({ threshold: 1 }), 'POLICY_INVALID', 'spec.mode'],
    ['a mode it does not know', policy({ mode: 'enforce' }), 'POLICY_INVALID', 'spec.mode'],
    [
      'a field of the spec it does not know',
      policy({ mode: 'Enforce', threshhold: 2 }),
      'POLICY_INVALID',
      'spec.threshhold',
    ],
    [
      'an unknown field in keys',
      policy({ mode: 'Enforce', keys: { secretRef: [] } }),
      'POLICY_INVALID',
      'spec.keys.secretRef',
    ],
    ['an unknown top-level field', { ...policy(FULL), sepc: {} }, 'POLICY_INVALID', 'sepc'],
    ['threshold 0', policy({ mode: 'Enforce', threshold: 0 }), 'POLICY_INVALID', 'spec.threshold'],
    [
      'threshold 65',
      policy({ mode: 'Enforce', threshold: 65 }),
      'POLICY_INVALID',
      'spec.threshold',
    ],
    [
      'threshold 1.5',
      policy({ mode: 'Enforce', threshold: 1.5 }),
      'POLICY_INVALID',
      'spec.threshold',
    ],
    [
      'threshold "2"',
      policy({ mode: 'Enforce', threshold: '2' }),
      'POLICY_INVALID',
      'spec.threshold',
    ],
    [
      'a null field',
      policy({ mode: 'Enforce', requiredKeyIds: null }),
      'POLICY_INVALID',
      'spec.requiredKeyIds',
    ],
    [
      'allowTestKeys "true"',
      policy({ mode: 'Enforce', allowTestKeys: 'true' }),
      'POLICY_INVALID',
      'spec.allowTestKeys',
    ],
    [
      'a maxAge that is not a duration',
      policy({ mode: 'Enforce', maxAge: '1 year' }),
      'POLICY_INVALID',
      'spec.maxAge',
    ],
    [
      'a maxAge in days',
      policy({ mode: 'Enforce', maxAge: '365d' }),
      'POLICY_INVALID',
      'spec.maxAge',
    ],
    [
      `${TRUST_POLICY_LIMITS.genomeNames + 1} genome names`,
      policy({
        mode: 'Enforce',
        match: { genomeNames: Array(TRUST_POLICY_LIMITS.genomeNames + 1).fill('a') },
      }),
      'POLICY_INVALID',
      'spec.match.genomeNames',
    ],
    [
      'a 254-character glob',
      policy({ mode: 'Enforce', match: { genomeNames: ['a'.repeat(254)] } }),
      'POLICY_INVALID',
      'spec.match.genomeNames[0]',
    ],
    [
      'a glob that is not a string',
      policy({ mode: 'Enforce', match: { genomeNames: [1] } }),
      'POLICY_INVALID',
      'spec.match.genomeNames[0]',
    ],
    [
      `${TRUST_POLICY_LIMITS.secretRefs + 1} secretRefs`,
      policy({
        mode: 'Enforce',
        keys: { secretRefs: Array(TRUST_POLICY_LIMITS.secretRefs + 1).fill({ name: 's' }) },
      }),
      'POLICY_INVALID',
      'spec.keys.secretRefs',
    ],
    [
      'a secretRef named in capitals',
      policy({ mode: 'Enforce', keys: { secretRefs: [{ name: 'Prod' }] } }),
      'POLICY_INVALID',
      'spec.keys.secretRefs[0].name',
    ],
    [
      'a secretRef with a namespace',
      policy({ mode: 'Enforce', keys: { secretRefs: [{ name: 'p', namespace: 'x' }] } }),
      'POLICY_INVALID',
      'spec.keys.secretRefs[0].namespace',
    ],
    [
      'a key id with a space',
      policy({ mode: 'Enforce', keys: { keyIds: ['a b'] } }),
      'POLICY_INVALID',
      'spec.keys.keyIds[0]',
    ],
    [
      `${TRUST_POLICY_LIMITS.keyIds + 1} key ids`,
      policy({
        mode: 'Enforce',
        keys: { keyIds: Array(TRUST_POLICY_LIMITS.keyIds + 1).fill('k') },
      }),
      'POLICY_INVALID',
      'spec.keys.keyIds',
    ],
    [
      `${TRUST_POLICY_LIMITS.requiredKeyIds + 1} required key ids`,
      policy({
        mode: 'Enforce',
        requiredKeyIds: Array(TRUST_POLICY_LIMITS.requiredKeyIds + 1).fill('k'),
      }),
      'POLICY_INVALID',
      'spec.requiredKeyIds',
    ],
    [
      'matchLabels with a number',
      policy({ mode: 'Enforce', match: { namespaceSelector: { matchLabels: { env: 1 } } } }),
      'POLICY_INVALID',
      'spec.match.namespaceSelector.matchLabels.env',
    ],
    [
      'an operator it does not know',
      policy({
        mode: 'Enforce',
        match: {
          namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] },
        },
      }),
      'POLICY_INVALID',
      'spec.match.namespaceSelector.matchExpressions[0].operator',
    ],
    [
      'In without values',
      policy({
        mode: 'Enforce',
        match: { namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } },
      }),
      'POLICY_INVALID',
      'spec.match.namespaceSelector.matchExpressions[0].values',
    ],
    [
      'Exists with values',
      policy({
        mode: 'Enforce',
        match: {
          namespaceSelector: {
            matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }],
          },
        },
      }),
      'POLICY_INVALID',
      'spec.match.namespaceSelector.matchExpressions[0].values',
    ],
  ])('refuses %s', (_name, value, code, field) => {
    const out = read(value);
    expect(out).toMatchObject({ code, field });
  });

  it('says which field it does not know, escaped', () => {
    const out = read(policy({ mode: 'Enforce', 'thres\u202ehold': 2 }));
    expect(out).toMatchObject({ code: 'POLICY_INVALID' });
    expect((out as { message: string }).message).toContain('thres\\u{202e}hold');
    expect((out as { message: string }).message).toContain('not a field of spec');
  });

  it('never throws, whatever it is given', () => {
    const hostile = [
      null,
      undefined,
      42,
      [],
      Object.create(null),
      new Proxy(
        {},
        {
          get: () => {
            throw new Error('boom');
          },
          ownKeys: () => {
            throw new Error('boom');
          },
        },
      ),
      policy(
        new Proxy(
          {},
          {
            ownKeys: () => {
              throw new Error('boom');
            },
          },
        ),
      ),
      policy({ mode: 'Enforce', match: { genomeNames: { length: 1e9 } } }),
      policy({ mode: 'Enforce', match: { namespaceSelector: { matchLabels: new Map() } } }),
      policy({ mode: 'Enforce', maxAge: new Date() }),
    ];
    for (const value of hostile) expect(read(value)).toMatchObject({ code: 'POLICY_INVALID' });
  });
});

const yaml = (...docs: string[]) => docs.join('\n---\n');
const doc = (name: string, spec = '{mode: Enforce}') =>
  `apiVersion: mathison.io/v1alpha1\nkind: GenomeTrustPolicy\nmetadata: {name: ${name}}\nspec: ${spec}\n`;

describe('readTrustPolicies', () => {
  it('reads several documents, skipping empty ones', () => {
    const out = readTrustPolicies(
      `---\n${yaml(doc('a'), '# nothing', doc('b', '{mode: Warn, threshold: 2}'))}---\n`,
      'p.yaml',
    );
    expect(out).toEqual([
      { name: 'a', spec: { mode: 'Enforce' } },
      { name: 'b', spec: { mode: 'Warn', threshold: 2 } },
    ]);
  });

  it('reads a List, as kubectl get gtp -o yaml prints it', () => {
    const list = `apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: ""\nitems:\n${[
      doc('a'),
      doc('b'),
    ]
      .map((d) => `- ${d.trimEnd().replace(/\n/g, '\n  ')}`)
      .join('\n')}\n`;
    expect(readTrustPolicies(list, 'list.yaml')).toEqual([
      { name: 'a', spec: { mode: 'Enforce' } },
      { name: 'b', spec: { mode: 'Enforce' } },
    ]);
  });

  it('reads an empty List as no policies', () => {
    expect(readTrustPolicies('apiVersion: v1\nkind: List\nitems: []\n', 'l.yaml')).toEqual([]);
  });

  it('reads YAML 1.1 as kubectl does: yes is true', () => {
    expect(readTrustPolicies(doc('a', '{mode: Warn, allowTestKeys: yes}'), 'p.yaml')).toEqual([
      { name: 'a', spec: { mode: 'Warn', allowTestKeys: true } },
    ]);
  });

  it.each([
    [
      'a policy refused, naming its document',
      yaml(doc('a'), doc('b', '{mode: Sometimes}')),
      /p\.yaml, document 2.*spec\.mode/,
    ],
    ['two policies of one name', yaml(doc('a'), doc('a')), /two policies named "a"/],
    [
      'an object of another kind',
      yaml(doc('a'), 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n'),
      /kind/,
    ],
    ['a syntax error', 'spec: {mode: [', /not YAML/],
    ['a duplicate key', 'kind: GenomeTrustPolicy\nkind: GenomeTrustPolicy\n', /not YAML/],
    ['a custom tag', doc('a', '!custom {mode: Enforce}'), /not YAML|tag/],
    ['a binary value', doc('a', '{mode: Enforce, maxAge: !!binary aGVsbG8=}'), /maxAge/],
    ['a timestamp', doc('a', '{mode: Enforce, maxAge: 2026-01-01}'), /maxAge/],
    ['a List holding something else', 'apiVersion: v1\nkind: List\nitems: [1]\n', /items\[0\]/],
  ])('refuses %s', (_name, text, message) => {
    const out = readTrustPolicies(text, 'p.yaml');
    expect(out).toMatchObject({ code: 'POLICY_INVALID' });
    expect((out as { message: string }).message).toMatch(message);
  });

  it('refuses more than 256 policies, in documents or in a List, quickly', () => {
    // Counted before any is read: 10,000 whole policies would be over 1 MiB, refused unread.
    const item = (i: number) => `{kind: GenomeTrustPolicy, metadata: {name: p${i}}}`;
    const many = Array.from({ length: 10_000 }, (_, i) => item(i));
    for (const text of [
      many.join('\n---\n'),
      `apiVersion: v1\nkind: List\nitems:\n${many.map((m) => `- ${m}`).join('\n')}\n`,
    ]) {
      expect(text.length).toBeLessThan(MAX_POLICY_FILE_BYTES);
      const started = performance.now();
      const out = readTrustPolicies(text, 'many.yaml');
      expect(out).toMatchObject({ code: 'POLICY_INVALID' });
      expect((out as { message: string }).message).toMatch(/256/);
      expect(performance.now() - started).toBeLessThan(3000);
    }
  });

  it('refuses a file over 1 MiB unread', () => {
    const out = readTrustPolicies(`${doc('a')}#${'x'.repeat(MAX_POLICY_FILE_BYTES)}`, 'big.yaml');
    expect(out).toMatchObject({ code: 'POLICY_INVALID' });
    expect((out as { message: string }).message).toMatch(/over the limit/);
  });

  it('refuses a YAML bomb of aliases quickly', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i += 1) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const started = performance.now();
    const out = readTrustPolicies(`${levels.join('\n')}\n`, 'bomb.yaml');
    expect(out).toMatchObject({ code: 'POLICY_INVALID' });
    expect((out as { message: string }).message).toMatch(/alias/i);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('does not copy YAML source text into its message (the CLI escapes the rest)', () => {
    const out = readTrustPolicies('spec: {mode: [\u001b[31mRED', 'p.yaml');
    expect((out as { message: string }).message).not.toContain('\u001b');
  });
});

describe('a policy read from a file cannot stall the judgement', () => {
  it('matches a glob of many stars against a long name in linear time', () => {
    const glob = `${'*a'.repeat(60)}*b`;
    const started = performance.now();
    expect(globMatches(glob, 'a'.repeat(100_000))).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it.each([
    ['TOTK_*', 'TOTK_ROOT', true],
    ['TOTK_*', 'TOTK_', true],
    ['TOTK_*', 'XTOTK_ROOT', false],
    ['*_ROOT', 'TOTK_ROOT', true],
    ['T?TK*', 'TOTK', true],
    ['T?TK*', 'TTK', false],
    ['*', '', true],
    ['', '', true],
    ['a*b*c', 'abxbc', true],
    ['a*b*c', 'abxbcx', false],
    ['?', '😀', true],
    ['a.b', 'axb', false],
    ['a\nb*', 'a\nbc', true],
  ])('glob %j on %j: %s', (glob, name, expected) => {
    expect(globMatches(glob, name)).toBe(expected);
  });
});
