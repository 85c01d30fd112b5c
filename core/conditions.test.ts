import { describe, expect, it } from 'vitest';
import {
  conditionTime,
  setCondition,
  summarizeReady,
  type Condition,
  type ConditionInput,
} from './conditions.ts';

const t0 = new Date('2026-12-01T10:00:00.123Z');
const t1 = new Date('2026-12-01T10:05:00.999Z');

const verified = (status: Condition['status'], generation = 1): ConditionInput => ({
  type: 'Verified',
  status,
  reason: status === 'True' ? 'Verified' : 'GENOME_UNTRUSTED_SIGNER',
  message: status === 'True' ? 'signed by alice' : 'none of the signers is trusted',
  observedGeneration: generation,
});

describe('setCondition', () => {
  const cases: {
    name: string;
    before: Condition[];
    input: ConditionInput;
    expected: Condition[];
  }[] = [
    {
      name: 'a new condition is appended with the current time',
      before: [],
      input: verified('True'),
      expected: [{ ...verified('True'), lastTransitionTime: '2026-12-01T10:05:00Z' }],
    },
    {
      name: 'the same status keeps lastTransitionTime and takes the new message and generation',
      before: [{ ...verified('True'), lastTransitionTime: conditionTime(t0) }],
      input: { ...verified('True', 2), message: 'signed by alice and bob' },
      expected: [
        {
          ...verified('True', 2),
          message: 'signed by alice and bob',
          lastTransitionTime: '2026-12-01T10:00:00Z',
        },
      ],
    },
    {
      name: 'a flipped status moves lastTransitionTime to now',
      before: [{ ...verified('True'), lastTransitionTime: conditionTime(t0) }],
      input: verified('False'),
      expected: [{ ...verified('False'), lastTransitionTime: '2026-12-01T10:05:00Z' }],
    },
    {
      name: 'a change of reason alone is not a transition',
      before: [{ ...verified('False'), lastTransitionTime: conditionTime(t0) }],
      input: { ...verified('False'), reason: 'GENOME_THRESHOLD_NOT_MET' },
      expected: [
        {
          ...verified('False'),
          reason: 'GENOME_THRESHOLD_NOT_MET',
          lastTransitionTime: '2026-12-01T10:00:00Z',
        },
      ],
    },
    {
      name: 'other conditions keep their place and their times',
      before: [
        { ...verified('True'), lastTransitionTime: conditionTime(t0) },
        {
          type: 'Ready',
          status: 'True',
          reason: 'Published',
          message: 'ok',
          observedGeneration: 1,
          lastTransitionTime: conditionTime(t0),
        },
      ],
      input: verified('False'),
      expected: [
        { ...verified('False'), lastTransitionTime: '2026-12-01T10:05:00Z' },
        {
          type: 'Ready',
          status: 'True',
          reason: 'Published',
          message: 'ok',
          observedGeneration: 1,
          lastTransitionTime: '2026-12-01T10:00:00Z',
        },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(setCondition(c.before, c.input, t1)).toEqual(c.expected);
    });
  }

  it('does not change the array it is given', () => {
    const before = [{ ...verified('True'), lastTransitionTime: conditionTime(t0) }];
    const copy = structuredClone(before);
    setCondition(before, verified('False'), t1);
    expect(before).toEqual(copy);
  });
});

describe('summarizeReady', () => {
  const summary = { type: 'Ready', generation: 2, reason: 'Published', message: 'published' };
  const at = (input: ConditionInput): Condition => ({
    ...input,
    lastTransitionTime: conditionTime(t0),
  });
  const cases: { name: string; conditions: Condition[]; expected: Partial<ConditionInput> }[] = [
    {
      name: 'every dependency True for this generation makes Ready True with the summary reason',
      conditions: [at(verified('True', 2))],
      expected: { status: 'True', reason: 'Published', observedGeneration: 2 },
    },
    {
      name: 'a False dependency makes Ready False with its reason and message',
      conditions: [at(verified('False', 2))],
      expected: {
        status: 'False',
        reason: 'GENOME_UNTRUSTED_SIGNER',
        message: 'none of the signers is trusted',
      },
    },
    {
      name: 'a missing dependency makes Ready Unknown',
      conditions: [],
      expected: { status: 'Unknown', reason: 'Pending' },
    },
    {
      name: 'a dependency decided for an older generation makes Ready Unknown',
      conditions: [at(verified('True', 1))],
      expected: { status: 'Unknown', reason: 'Pending' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(summarizeReady(c.conditions, ['Verified'], summary)).toMatchObject({
        type: 'Ready',
        observedGeneration: 2,
        ...c.expected,
      });
    });
  }
});
