import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { genomeCrd } from './crd.ts';

type Schema = Record<string, any>;
const genomeSchema = (): Schema =>
  (genomeCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.genome;

function walk(schema: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(schema, path);
  for (const [k, v] of Object.entries(schema.properties ?? {}))
    walk(v as Schema, `${path}.${k}`, visit);
  if (schema.items) walk(schema.items, `${path}[]`, visit);
}

describe('genomeCrd', () => {
  it('matches the committed crds/genomes.mathison.io.yaml (run make crds after changing core/)', () => {
    const committed = parse(
      readFileSync(join(import.meta.dirname, '..', 'crds', 'genomes.mathison.io.yaml'), 'utf8'),
    );
    expect(stringify(committed)).toBe(stringify(genomeCrd()));
  });

  it('is structural under spec.genome: every node has a type and a description, no additionalProperties', () => {
    walk(genomeSchema(), 'spec.genome', (s, path) => {
      expect(s.type, path).toBeDefined();
      expect(s.description, path).toBeTruthy();
      expect(s.additionalProperties, path).toBeUndefined();
    });
  });

  it('keeps unknown fields on every object of spec.genome, so signed content is never pruned', () => {
    walk(genomeSchema(), 'spec.genome', (s, path) => {
      if (s.type === 'object') expect(s['x-kubernetes-preserve-unknown-fields'], path).toBe(true);
    });
  });

  it('puts no pattern on a key, key id or signature field, since the API server would quote a private key pasted there', () => {
    const schema = genomeSchema().properties;
    const signer = schema.authority.properties.signers.items;
    for (const field of [signer.properties.public_key, signer.properties.key_id]) {
      expect(field.type).toBe('string');
      expect(field.pattern).toBeUndefined();
    }
    for (const signature of [schema.signature, schema.signatures.items]) {
      expect(signature.properties.signer_key_id.pattern).toBeUndefined();
      expect(signature.properties.sig_base64.pattern).toBeUndefined();
    }
    // Fields no key is pasted into keep theirs.
    expect(schema.version.pattern).toBeDefined();
  });

  it('sets no default anywhere under spec.genome, so nothing is added to signed content', () => {
    walk(genomeSchema(), 'spec.genome', (s, path) => expect(s.default, path).toBeUndefined());
  });

  it('has the short name gn, a status subresource and the printer columns', () => {
    const crd = genomeCrd() as any;
    expect(crd.spec.names.shortNames).toEqual(['gn']);
    expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0].additionalPrinterColumns.map((c: Schema) => c.name)).toEqual([
      'Genome',
      'Version',
      'Verified',
      'Reason',
      'ID',
      'Age',
      'Message',
    ]);
  });

  it('shows why a Genome is not verified: the Verified reason, and its message under -o wide', () => {
    const columns = (genomeCrd() as any).spec.versions[0].additionalPrinterColumns;
    const byName = (name: string) => columns.find((c: Schema) => c.name === name);
    expect(byName('Reason')).toMatchObject({
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Verified")].reason',
    });
    expect(byName('Reason').priority).toBeUndefined();
    expect(byName('Message')).toMatchObject({
      type: 'string',
      jsonPath: '.status.conditions[?(@.type=="Verified")].message',
      priority: 1,
    });
    for (const c of columns) expect(c.description ?? 'Age', c.name).toBeTruthy();
  });

  it('has spec.rollout beside spec.genome: Automatic or Manual, Automatic by default, described for kubectl explain', () => {
    const spec = (genomeCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.spec;
    expect(spec.required).toEqual(['genome']);
    expect(spec.properties.rollout).toMatchObject({
      type: 'string',
      enum: ['Automatic', 'Manual'],
      default: 'Automatic',
    });
    expect(spec.properties.rollout.description).toMatch(/genome\.mathison\.io\/id/);
  });

  it('has status.policies: per matching policy, whether it held, why not, and each signer (PolicyResult)', () => {
    const status = (genomeCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.status;
    const policies = status.properties.policies;
    expect(policies).toMatchObject({ type: 'array', maxItems: 64 });
    expect(policies['x-kubernetes-list-map-keys']).toEqual(['policy']);
    const item = policies.items;
    expect(Object.keys(item.properties).sort()).toEqual([
      'held',
      'message',
      'mode',
      'policy',
      'reason',
      'signers',
    ]);
    expect(item.required).toEqual(['policy', 'mode', 'held']);
    expect(item.properties.mode.enum).toEqual(['Enforce', 'Warn', 'Audit']);
    expect(item.properties.held.type).toBe('boolean');
    expect(item.properties.signers).toMatchObject({ type: 'array', maxItems: 64 });
    const signer = item.properties.signers.items;
    expect(Object.keys(signer.properties).sort()).toEqual(['counted', 'keyId', 'state']);
    expect(signer.properties.counted.type).toBe('boolean');
    walk(policies, 'status.policies', (s, path) => expect(s.description, path).toBeTruthy());
  });

  it('keeps the rest of the status as it was', () => {
    const status = (genomeCrd() as any).spec.versions[0].schema.openAPIV3Schema.properties.status;
    expect(Object.keys(status.properties)).toEqual([
      'observedGeneration',
      'genomeId',
      'shortId',
      'verifiedSigners',
      'configMapName',
      'conditions',
      'policies',
    ]);
  });
});
