import { sm2 } from 'sm-crypto-v2';
import { base64OfBytes, bytesOfBase64 } from './api.js';

// Governance's second factor in the browser: a governance call carries the
// approver's SM2 signature (GB/T 32918, default ID, DER) over
// "tongxing-approval-v1\n" + the gRPC path + "\n" + the exact binary request
// (node/access/guard.ts approvalMessage). The approver key file is read in the
// page and kept in memory only; it never leaves the browser. Loaded with
// import() by the governance page alone, so the first load does not carry it.

export interface ApproverKey {
  /** 32 bytes of d, hex. */
  readonly privateKeyHex: string;
  /** 04 || x || y, hex. */
  readonly publicKeyHex: string;
}

/** The SM2 private key of a PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY", "SM2 PRIVATE KEY") PEM, as `tongxing keygen` and openssl write them. */
export function readApproverKey(pem: string): ApproverKey {
  if (pem.includes('ENCRYPTED PRIVATE KEY')) throw new Error('the key file is encrypted: export it unencrypted for signing in the console');
  const body = /-----BEGIN (?:SM2 |EC )?PRIVATE KEY-----([\s\S]+?)-----END/.exec(pem)?.[1];
  if (body === undefined) throw new Error('not a PEM private key (expected -----BEGIN PRIVATE KEY-----)');
  const der = bytesOfBase64(body.replace(/\s+/g, ''));
  // ECPrivateKey ::= SEQUENCE { version INTEGER 1, privateKey OCTET STRING (32 bytes), ... }
  for (let i = 0; i + 37 <= der.length; i++) {
    if (der[i] === 0x02 && der[i + 1] === 0x01 && der[i + 2] === 0x01 && der[i + 3] === 0x04 && der[i + 4] === 0x20) {
      const privateKeyHex = Array.from(der.subarray(i + 5, i + 37), (b) => b.toString(16).padStart(2, '0')).join('');
      return { privateKeyHex, publicKeyHex: sm2.getPublicKeyFromPrivateKey(privateKeyHex) };
    }
  }
  throw new Error('no SM2 private key (ECPrivateKey, version 1, 32 bytes) in the PEM');
}

const approveMethodPath = '/tongxing.api.v1.GovernanceService/Approve';

/** ApproveRequest { bytes proposal_hash = 1; } in protobuf binary: the bytes the node decodes the JSON request to. */
export function approveRequestBytes(proposalHash: Uint8Array): Uint8Array {
  if (proposalHash.length > 127) throw new Error('a proposal hash is 32 bytes');
  return Uint8Array.from([0x0a, proposalHash.length, ...proposalHash]);
}

function approvalMessage(path: string, requestBytes: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode(`tongxing-approval-v1\n${path}\n`);
  const message = new Uint8Array(prefix.length + requestBytes.length);
  message.set(prefix);
  message.set(requestBytes, prefix.length);
  return message;
}

/** The x-tongxing-approval header (base64 DER) for approving the proposal with this base64 hash. */
export function signApproval(key: ApproverKey, proposalHashBase64: string): string {
  const message = approvalMessage(approveMethodPath, approveRequestBytes(bytesOfBase64(proposalHashBase64)));
  const signatureHex = sm2.doSignature(message, key.privateKeyHex, { hash: true, der: true, publicKey: key.publicKeyHex });
  return base64OfBytes(Uint8Array.from(signatureHex.match(/../g)!.map((h) => parseInt(h, 16))));
}
