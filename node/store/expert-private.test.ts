import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../federation/store/memory.js';
import { StateExpertPrivateStore } from './expert-private.js';

describe('the private expert store', () => {
  it('creates one salt, even for concurrent first uses, and keeps it across instances', async () => {
    const store = new MemoryStore();
    const first = new StateExpertPrivateStore(store);
    const [a, b] = await Promise.all([first.salt(), first.salt()]);
    expect(Buffer.from(a).equals(b)).toBe(true);
    expect(a).toHaveLength(32);
    expect(Buffer.from(await new StateExpertPrivateStore(store).salt()).equals(a)).toBe(true);
  });

  it('keeps personal records and seeds under private/, never in a log or a view', async () => {
    const store = new MemoryStore();
    const privateStore = new StateExpertPrivateStore(store);
    await privateStore.putPersonal({ expertRef: 'e-1', idCardNumber: '11010519491231002X', name: '张三', phone: '13900000000', birthday: '1949-12-31', employerName: '', registeredAtMs: 1 });
    await privateStore.putSeed('KM-1', Buffer.alloc(32, 7));
    expect((await privateStore.personal('e-1'))!.name).toBe('张三');
    expect(Buffer.from((await privateStore.seed('KM-1'))!).equals(Buffer.alloc(32, 7))).toBe(true);
    expect(await store.latestHeads()).toEqual([]);
    expect(await store.stateRange('view/', 10)).toEqual([]);
    expect((await store.stateRange('private/', 10)).map(([key]) => key)).toEqual([
      'private/evaluation/seed/KM-1',
      'private/expert/personal/e-1',
    ]);
  });
});
