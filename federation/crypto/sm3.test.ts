import { describe, expect, it } from 'vitest';
import { sm3, sm3Hex } from './sm3.js';

// GB/T 32905-2016 appendix A (also docs/DOMAIN.md, "SM3").
describe('sm3', () => {
  it('hashes "abc" (example 1)', () => {
    expect(sm3Hex(Buffer.from('abc'))).toBe('66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0');
  });

  it('hashes "abcd" x16, a two-block message (example 2)', () => {
    expect(sm3Hex(Buffer.from('abcd'.repeat(16)))).toBe(
      'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732',
    );
  });

  it('returns the same 32 bytes as bytes and hex', () => {
    const data = new Uint8Array([1, 2, 3]);
    expect(sm3(data)).toHaveLength(32);
    expect(sm3(data).toString('hex')).toBe(sm3Hex(data));
  });
});
