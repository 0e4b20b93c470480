import { describe, expect, it } from 'vitest';
import { LimitError } from './errors.js';
import { entryBytesMax, pullsInFlightPerPeerMax, rangeEntriesMax } from './limits.js';
import { checkPulledEntries, PullSlots, PullsServed } from './pulls.js';

const peer = 'a'.repeat(64);

describe('PullSlots', () => {
  it('hands a released slot to the longest waiting pull, so a newcomer cannot take it first', async () => {
    const slots = new PullSlots();
    for (let i = 0; i < pullsInFlightPerPeerMax; i++) expect(await slots.acquire(peer)).toBe(true);
    const order: string[] = [];
    const first = slots.acquire(peer).then((granted) => order.push(`first ${granted}`));
    const second = slots.acquire(peer).then((granted) => order.push(`second ${granted}`));
    slots.release(peer);
    const newcomer = slots.acquire(peer).then((granted) => order.push(`newcomer ${granted}`));
    await first;
    expect(order).toEqual(['first true']);
    slots.release(peer);
    slots.release(peer);
    await Promise.all([second, newcomer]);
    expect(order).toEqual(['first true', 'second true', 'newcomer true']);
  });

  it('keeps count when every slot is released before a woken pull runs', async () => {
    const slots = new PullSlots();
    for (let i = 0; i < pullsInFlightPerPeerMax; i++) await slots.acquire(peer);
    const waiting = slots.acquire(peer);
    for (let i = 0; i < pullsInFlightPerPeerMax; i++) slots.release(peer); // all in one turn: the waiter has not run yet
    expect(await waiting).toBe(true);
    slots.release(peer); // the one slot it holds
    expect(() => slots.release(peer)).toThrow(expect.objectContaining({ name: 'AssertionError' }));
  });

  it('counts per peer, and after close() refuses waiting and later pulls', async () => {
    const slots = new PullSlots();
    for (let i = 0; i < pullsInFlightPerPeerMax; i++) await slots.acquire(peer);
    expect(await slots.acquire('b'.repeat(64))).toBe(true);
    const waiting = slots.acquire(peer);
    slots.close();
    expect(await waiting).toBe(false);
    expect(await slots.acquire('c'.repeat(64))).toBe(false);
  });
});

describe('PullsServed', () => {
  it(`refuses a caller's pull beyond pullsInFlightPerPeerMax with the numbers, and admits again once one ends`, () => {
    const served = new PullsServed();
    for (let i = 0; i < pullsInFlightPerPeerMax; i++) served.admit(peer);
    served.admit('b'.repeat(64)); // another caller has its own count
    expect(() => served.admit(peer)).toThrow(new LimitError(`${pullsInFlightPerPeerMax} pulls in flight from ${peer.slice(0, 12)}; pullsInFlightPerPeerMax ${pullsInFlightPerPeerMax}`));
    served.release(peer);
    expect(() => served.admit(peer)).not.toThrow();
  });
});

describe('checkPulledEntries', () => {
  it('accepts a chunk at the bounds and refuses one entry or one entry count beyond them, naming the bound', () => {
    expect(() => checkPulledEntries([Buffer.alloc(entryBytesMax)])).not.toThrow();
    expect(() => checkPulledEntries(Array.from({ length: rangeEntriesMax }, () => Buffer.alloc(1)))).not.toThrow();
    expect(() => checkPulledEntries([Buffer.alloc(entryBytesMax + 1)])).toThrow(`pulled entry of ${entryBytesMax + 1} bytes exceeds entryBytesMax ${entryBytesMax}`);
    expect(() => checkPulledEntries([Buffer.alloc(1)], rangeEntriesMax)).toThrow(`pulled chunk of over ${rangeEntriesMax + 1} entries exceeds rangeEntriesMax ${rangeEntriesMax}`);
    expect(() => checkPulledEntries(Array.from({ length: rangeEntriesMax + 1 }, () => Buffer.alloc(1)))).toThrow(LimitError);
  });
});
