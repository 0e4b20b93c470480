import { afterAll, describe, expect, it } from 'vitest';
import { privateBackupAllowed, signBackupRequest } from './request.js';
import { backupStream } from './stream.js';
import { allianceId, guiyang, kunming, removeTemporaryDirectories, sampleStore, startMs } from './testing.js';

// The node's private state goes only to a request signed with the node's own key.

afterAll(removeTemporaryDirectories);

describe('private backups', () => {
  it('has the private state only for a recent request signed with the node\'s own key', async () => {
    const node = { allianceId, nodeId: kunming.nodeId, nodeKey: kunming.keyPair.publicKey, nowMs: startMs };
    expect(privateBackupAllowed({ atMs: 0n, signature: Buffer.alloc(0) }, node)).toBe(false);
    expect(privateBackupAllowed(signBackupRequest(kunming.keyPair, allianceId, kunming.nodeId, startMs - 5_000), node)).toBe(true);
    const refusal = (request: Parameters<typeof privateBackupAllowed>[0]) => {
      try {
        privateBackupAllowed(request, node);
      } catch (error) {
        return (error as { field?: string }).field;
      }
      return 'allowed';
    };
    expect(refusal(signBackupRequest(guiyang.keyPair, allianceId, kunming.nodeId, startMs))).toBe('signature');
    expect(refusal(signBackupRequest(kunming.keyPair, allianceId, guiyang.nodeId, startMs))).toBe('signature'); // for another node
    expect(refusal(signBackupRequest(kunming.keyPair, allianceId, kunming.nodeId, startMs - 120_000))).toBe('atMs');
    expect(refusal({ atMs: BigInt(startMs), signature: Buffer.from('garbage') })).toBe('signature');

    const { store } = await sampleStore();
    try {
      const header = async (includePrivate: boolean) => {
        for await (const message of backupStream(store.snapshot(), { includePrivate, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4 })) {
          if (message.part?.$case === 'header') return message.part.value;
        }
        throw new Error('no header');
      };
      expect(await header(true)).toMatchObject({ privateStateIncluded: true, privateStates: 2n });
      expect(await header(false)).toMatchObject({ privateStateIncluded: false, privateStates: 0n });
      const messages: string[] = [];
      for await (const message of backupStream(store.snapshot(), { includePrivate: false, allianceId, nodeId: kunming.nodeId, nowMs: () => startMs, proofsMax: 4 })) messages.push(message.part!.$case);
      expect(messages).not.toContain('privateState');
    } finally {
      await store.close();
    }
  });
});
