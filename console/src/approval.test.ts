import { describe, expect, it } from 'vitest';
import { writePrivateKeyPem } from '../../federation/crypto/pem.js';
import { generateKeyPair, verify } from '../../federation/crypto/sm2.js';
import { approvalMessage } from '../../node/access/guard.js';
import { ApproveRequest } from '../../gen/tongxing/api/v1/governance.js';
import { approveRequestBytes, readApproverKey, signApproval } from './approval.js';

// The console's approval signature must be exactly what the guard verifies:
// the same request bytes as the generated encoder, an SM2 signature with the
// default ID that federation's verify accepts.

describe('console approval signing', () => {
  const pair = generateKeyPair();
  const hash = Buffer.alloc(32, 0).map((_, i) => (i * 37 + 11) & 0xff);

  it('reads the key tongxing keygen writes', () => {
    const key = readApproverKey(writePrivateKeyPem(pair));
    expect(key.privateKeyHex).toBe(Buffer.from(pair.privateKey).toString('hex'));
    expect(key.publicKeyHex).toBe(Buffer.from(pair.publicKey).toString('hex'));
  });

  it('encodes ApproveRequest as the generated code does', () => {
    expect(Buffer.from(approveRequestBytes(hash))).toEqual(Buffer.from(ApproveRequest.encode({ proposalHash: Buffer.from(hash) }).finish()));
  });

  it('signs what the guard verifies, and only for that proposal', () => {
    const header = signApproval(readApproverKey(writePrivateKeyPem(pair)), Buffer.from(hash).toString('base64'));
    const signature = Buffer.from(header, 'base64');
    const path = '/tongxing.api.v1.GovernanceService/Approve';
    expect(verify(pair.publicKey, approvalMessage(path, ApproveRequest.encode({ proposalHash: Buffer.from(hash) }).finish()), signature)).toBe(true);
    const other = Buffer.from(hash).fill(1, 0, 1);
    expect(verify(pair.publicKey, approvalMessage(path, ApproveRequest.encode({ proposalHash: other }).finish()), signature)).toBe(false);
  });

  it('refuses what is not an SM2 private key', () => {
    expect(() => readApproverKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----')).toThrow(/encrypted/);
    expect(() => readApproverKey('hello')).toThrow(/not a PEM private key/);
  });
});
