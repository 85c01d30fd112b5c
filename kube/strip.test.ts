import { describe, expect, it } from 'vitest';
import { LAST_APPLIED_ANNOTATION, stripBookkeeping } from './strip.ts';

describe('stripBookkeeping', () => {
  it('drops managedFields and the last-applied copy, and keeps everything else', () => {
    const object = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'a',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { l: '1' },
        annotations: { keep: 'yes', [LAST_APPLIED_ANNOTATION]: '{"huge":true}' },
        managedFields: [{ manager: 'kubectl', fieldsV1: {} }],
      },
      data: { 'genome.json': '{}' },
    };
    expect(stripBookkeeping(object)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'a',
        namespace: 'ns',
        resourceVersion: '7',
        labels: { l: '1' },
        annotations: { keep: 'yes' },
      },
      data: { 'genome.json': '{}' },
    });
  });

  it('leaves an object without them as it is', () => {
    const object = { metadata: { name: 'a', annotations: { keep: 'yes' } } };
    expect(stripBookkeeping(object)).toEqual(object);
    expect(stripBookkeeping({ kind: 'X' })).toEqual({ kind: 'X' });
  });
});
