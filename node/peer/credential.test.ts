import { describe, expect, it } from 'vitest';
import { PeerServiceService } from '../../gen/tongxing/federation/v1/peer.js';
import { sm3 } from '../../federation/crypto/sm3.js';
import { generateKeyPair, nodeIdOf } from '../../federation/crypto/sm2.js';
import { AuthenticationError } from '../../federation/errors.js';
import { credentialAgeMsMax } from '../limits.js';
import { Membership, type Member } from '../../federation/membership.js';
import { CredentialIssuer, CredentialVerifier } from './credential.js';

// Call credentials at the callee, without gRPC: a verifier is what a node
// process holds, so "restart" is a new verifier on the same clock. The clock
// is a variable: no wall time.

const allianceId = sm3(Buffer.from('tongxing credential test alliance'));
const method = PeerServiceService.exchangeHeads.path;

function pair() {
  const keys = [generateKeyPair(), generateKeyPair()];
  const members: Member[] = keys.map((key, i) => ({ nodeId: nodeIdOf(key.publicKey), publicKey: key.publicKey, city: ['Kunming', 'Guiyang'][i]!, regionCode: ['530100', '520100'][i]!, endpoints: [] }));
  const clock = { now: 1_767_225_600_000 };
  const callee = members[0]!.nodeId;
  const start = () => new CredentialVerifier({ allianceId, nodeId: callee }, { members: new Membership(members), clock: { nowMs: () => clock.now } });
  const caller = new CredentialIssuer({ allianceId, keyPair: keys[1]! });
  const credential = (issuedAtMs = clock.now) => caller.issue({ callee, method, issuedAtMs });
  return { clock, start, credential, callerId: members[1]!.nodeId };
}

describe('call credentials across a restart of the callee', () => {
  // Issue 12: the nonce cache is in memory only; a used credential was accepted again 3.1 s after a restart.
  it('refuses a credential used before the restart, though it is younger than credentialAgeMsMax', () => {
    const { clock, start, credential, callerId } = pair();
    const before = start();
    clock.now += 1000;
    const used = credential();
    expect(before.verify(used, method)).toBe(callerId);
    expect(() => before.verify(used, method)).toThrow(/replayed/);

    clock.now += 3100; // the node restarts: a new verifier, no nonces
    const after = start();
    expect(clock.now - Number(used.issuedAtMs)).toBeLessThan(credentialAgeMsMax);
    expect(() => after.verify(used, method)).toThrow(AuthenticationError);
    expect(() => after.verify(used, method)).toThrow(/ms before this node started .*call again with a new credential/);
    // An honest caller mints a credential per call: its next call passes, once.
    const next = credential();
    expect(after.verify(next, method)).toBe(callerId);
    expect(() => after.verify(next, method)).toThrow(/replayed/);
  });

  it('refuses a credential issued before the start that it never saw, and accepts one issued at the start', () => {
    const { clock, start, credential, callerId } = pair();
    const verifier = start();
    expect(() => verifier.verify(credential(clock.now - 1), method)).toThrow(/1 ms before this node started/);
    expect(verifier.verify(credential(clock.now), method)).toBe(callerId);
  });

  it('refuses a caller whose clock is behind by d for d after the start, then accepts its fresh credentials', () => {
    const { clock, start, credential, callerId } = pair();
    const behindMs = 2000;
    const verifier = start();
    clock.now += 500;
    expect(() => verifier.verify(credential(clock.now - behindMs), method)).toThrow(/before this node started/);
    clock.now += behindMs;
    expect(verifier.verify(credential(clock.now - behindMs), method)).toBe(callerId);
  });
});
