import { describe, expect, it } from 'vitest';
import { NODE_SLOTS, nodeRanges } from './node-ranges.ts';

const toInt = (ip: string) => ip.split('.').reduce((n, part) => n * 256 + Number(part), 0);
const span = (cidr: string): [number, number] => {
  const [ip = '', bits = '32'] = cidr.split('/');
  const start = toInt(ip);
  return [start, start + 2 ** (32 - Number(bits)) - 1];
};
const inside = (inner: string, outer: string) => {
  const [a, b] = span(inner);
  const [c, d] = span(outer);
  return a >= c && b <= d;
};

describe('nodeRanges', () => {
  it('keeps every range of every slot inside its own block of 198.18.0.0/15, without overlaps', () => {
    const blocks = Array.from({ length: NODE_SLOTS }, (_, slot) => nodeRanges(slot));
    for (const r of blocks) {
      expect(inside(r.block, '198.18.0.0/15')).toBe(true);
      for (const cidr of [r.linkCidr, r.serviceCidr, r.clusterCidr, r.podCidr])
        expect(inside(cidr, r.block)).toBe(true);
      expect(inside(r.podCidr, r.clusterCidr)).toBe(true);
      const [link, service, pods] = [r.linkCidr, r.serviceCidr, r.clusterCidr].map(span);
      expect(link![1] < service![0] && service![1] < pods![0]).toBe(true);
      expect(r.hostLink.length).toBeLessThanOrEqual(15);
    }
    for (let i = 1; i < blocks.length; i++)
      expect(span(blocks[i]!.block)[0]).toBeGreaterThan(span(blocks[i - 1]!.block)[1]);
  });

  it('refuses a slot outside 0-7', () => {
    expect(() => nodeRanges(NODE_SLOTS)).toThrow(/outside/);
  });
});
