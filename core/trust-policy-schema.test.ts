import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { KEY_ID_PATTERN } from './genome-schema.ts';
import { POLICY_MODES, type TrustPolicySpec } from './trust-policy.ts';
import { defaultTrustPolicy, TRUST_POLICY_PLURAL, trustPolicyCrd } from './trust-policy-schema.ts';

type Schema = Record<string, any>;
const version = () => (trustPolicyCrd() as any).spec.versions[0];
const root = (): Schema => version().schema.openAPIV3Schema;
const spec = (): Schema => root().properties.spec;

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [k, v] of Object.entries(schema.properties ?? {}))
    walk(v as Schema, `${path}.${k}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
  if (typeof schema.additionalProperties === 'object')
    walk(schema.additionalProperties, `${path}{}`, visit);
}

/** Every field of TrustPolicySpec, as paths: the schema must have exactly these. */
const SPEC_FIELDS: Record<keyof TrustPolicySpec, true> = {
  mode: true,
  match: true,
  keys: true,
  threshold: true,
  requiredKeyIds: true,
  allowTestKeys: true,
  maxAge: true,
};

describe('trustPolicyCrd', () => {
  it('matches the committed crds/genometrustpolicies.mathison.io.yaml (run make crds after changing core/)', () => {
    const committed = parse(
      readFileSync(
        join(import.meta.dirname, '..', 'crds', 'genometrustpolicies.mathison.io.yaml'),
        'utf8',
      ),
    );
    expect(stringify(committed)).toBe(stringify(trustPolicyCrd()));
  });

  it('is GenomeTrustPolicy of mathison.io/v1alpha1: cluster-scoped, short name gtp, a status subresource', () => {
    const crd = trustPolicyCrd() as any;
    expect(crd.metadata.name).toBe(`${TRUST_POLICY_PLURAL}.mathison.io`);
    expect(crd.spec.group).toBe('mathison.io');
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({
      kind: 'GenomeTrustPolicy',
      plural: 'genometrustpolicies',
      shortNames: ['gtp'],
    });
    expect(crd.spec.versions.map((v: Schema) => v.name)).toEqual(['v1alpha1']);
    expect(version().subresources).toEqual({ status: {} });
  });

  it('prints Mode, Matched, Verified, Refused, Ready and Age', () => {
    const columns = version().additionalPrinterColumns as Schema[];
    expect(columns.map((c) => [c.name, c.jsonPath])).toEqual([
      ['Mode', '.spec.mode'],
      ['Matched', '.status.matched'],
      ['Verified', '.status.verified'],
      ['Refused', '.status.refused'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it("has exactly TrustPolicySpec's fields, mode required", () => {
    expect(Object.keys(spec().properties).sort()).toEqual(Object.keys(SPEC_FIELDS).sort());
    expect(spec().required).toEqual(['mode']);
    expect(spec().properties.mode.enum).toEqual([...POLICY_MODES]);
    expect(Object.keys(spec().properties.match.properties).sort()).toEqual([
      'genomeNames',
      'namespaceSelector',
    ]);
    expect(Object.keys(spec().properties.keys.properties).sort()).toEqual(['keyIds', 'secretRefs']);
  });

  it('is structural and prunes unknown fields: every node typed and described, nothing preserved', () => {
    walk(spec(), 'spec', (s, path) => {
      expect(s.type, path).toBeDefined();
      expect(s.description, path).toBeTruthy();
      expect(s['x-kubernetes-preserve-unknown-fields'], path).toBeUndefined();
      if (s.properties) expect(s.additionalProperties, path).toBeUndefined();
    });
    walk(root().properties.status, 'status', (s, path) => {
      expect(s['x-kubernetes-preserve-unknown-fields'], path).toBeUndefined();
    });
  });

  it('bounds every list, string and number a policy can hold', () => {
    walk(spec(), 'spec', (s, path) => {
      if (s.type === 'array') expect(s.maxItems, path).toBeGreaterThan(0);
      if (s.type === 'string' && !s.enum) expect(s.maxLength, path).toBeGreaterThan(0);
      if (s.type === 'object' && !s.properties) expect(s.maxProperties, path).toBeGreaterThan(0);
    });
    const p = spec().properties;
    expect([p.threshold.minimum, p.threshold.maximum]).toEqual([1, 64]);
    expect(p.match.properties.genomeNames).toMatchObject({ maxItems: 64 });
    expect(p.match.properties.genomeNames.items).toMatchObject({ maxLength: 253 });
    expect(p.keys.properties.secretRefs.maxItems).toBe(32);
    expect(p.keys.properties.secretRefs.items.required).toEqual(['name']);
    expect(p.keys.properties.secretRefs.items.properties.name.pattern).toBe(
      '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
    );
    expect(p.keys.properties.keyIds).toMatchObject({ maxItems: 256 });
    expect(p.keys.properties.keyIds.items.pattern).toBe(KEY_ID_PATTERN);
    expect(p.requiredKeyIds).toMatchObject({ maxItems: 32 });
    expect(p.requiredKeyIds.items.pattern).toBe(KEY_ID_PATTERN);
    expect(p.allowTestKeys.type).toBe('boolean');
    expect(p.maxAge.pattern).toBe('^([0-9]+(\\.[0-9]+)?(ms|h|m|s))+$');
  });

  it('takes a standard LabelSelector as namespaceSelector, its operators enumerated', () => {
    const selector = spec().properties.match.properties.namespaceSelector;
    expect(Object.keys(selector.properties).sort()).toEqual(['matchExpressions', 'matchLabels']);
    expect(selector.properties.matchLabels.additionalProperties.type).toBe('string');
    const expression = selector.properties.matchExpressions.items;
    expect(expression.required).toEqual(['key', 'operator']);
    expect(expression.properties.operator.enum).toEqual(['In', 'NotIn', 'Exists', 'DoesNotExist']);
    expect(expression['x-kubernetes-validations']).toHaveLength(1);
  });

  it('agrees with core/trust-policy.ts on what a valid maxAge is', () => {
    const pattern = new RegExp(spec().properties.maxAge.pattern);
    for (const good of ['8760h', '1h30m', '90s', '500ms', '1.5h'])
      expect(pattern.test(good)).toBe(true);
    for (const bad of ['', '1d', '-1h', 'h', '1 h', '1h ']) expect(pattern.test(bad)).toBe(false);
  });

  it('has a status of observedGeneration, Ready conditions and counts of matched, verified and refused Genomes', () => {
    const status = root().properties.status;
    expect(Object.keys(status.properties).sort()).toEqual([
      'conditions',
      'matched',
      'observedGeneration',
      'refused',
      'verified',
    ]);
    for (const count of ['matched', 'verified', 'refused'])
      expect(status.properties[count]).toMatchObject({ type: 'integer', minimum: 0 });
    expect(status.properties.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
    expect(status.properties.conditions.items.required).toContain('type');
  });
});

describe('defaultTrustPolicy', () => {
  it('is the flat model: Enforce, no match, no keys, no threshold; test keys only when asked', () => {
    expect(defaultTrustPolicy({ allowTestKeys: false })).toEqual({
      apiVersion: 'mathison.io/v1alpha1',
      kind: 'GenomeTrustPolicy',
      metadata: { name: 'default' },
      spec: { mode: 'Enforce', allowTestKeys: false },
    });
    expect(defaultTrustPolicy({ allowTestKeys: true }).spec.allowTestKeys).toBe(true);
  });
});
