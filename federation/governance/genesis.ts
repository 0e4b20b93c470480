import { Genesis, GenesisBody, KeyRotation, Member, MemberRole, type GenesisSignature } from '../../gen/tongxing/records/v1/records.js';
import { nodeIdOf, sign, verify, type Sm2KeyPair } from '../crypto/sm2.js';
import { sm3 } from '../crypto/sm3.js';
import { SignatureError, ValidationError } from '../errors.js';
import { allianceNameCharsMax, allianceMembersMax, certificateBytesMax } from '../limits.js';
import { requireDer, requireText, requireTime, validateMember, validateRecognitionPolicy } from '../records/validate.js';

// The genesis document founds an alliance: its name, founding members, quorum,
// trusted CA roots and recognition policy. Every founder signs the same body
// bytes offline; the alliance id is the SM3 of those bytes, so a changed byte
// is a different alliance. Domain strings keep a signature made for one
// purpose (genesis, join, key rotation) from being replayed for another.

const genesisDomain = Buffer.from('tongxing-genesis');
const joinDomain = Buffer.from('tongxing-join');
const rotateDomain = Buffer.from('tongxing-rotate');

export const allianceIdOf = (bodyBytes: Uint8Array): Buffer => sm3(bodyBytes);

export function encodeGenesisBody(body: GenesisBody): Uint8Array {
  return GenesisBody.encode(body).finish();
}

/** Checks a body's rules (names the field of the first broken one). */
export function validateGenesisBody(body: GenesisBody): void {
  requireText(body.allianceName, 'genesis.allianceName', allianceNameCharsMax);
  if (body.founders.length === 0) throw new ValidationError('genesis.founders', 'missing: an alliance needs at least one founder');
  if (body.founders.length > allianceMembersMax) throw new ValidationError('genesis.founders', `at most ${allianceMembersMax} (allianceMembersMax)`);
  const ids = new Set<string>();
  body.founders.forEach((founder, i) => {
    validateMember(founder, `genesis.founders[${i}]`);
    const id = nodeIdOf(founder.publicKey);
    if (ids.has(id)) throw new ValidationError(`genesis.founders[${i}].publicKey`, 'appears twice');
    ids.add(id);
  });
  const admins = body.founders.filter((f) => f.roles.includes(MemberRole.MEMBER_ROLE_ADMIN)).length;
  if (admins === 0) throw new ValidationError('genesis.founders', 'no founder has the admin role: nobody could ever approve a change');
  if (body.quorum < 1 || body.quorum > admins) throw new ValidationError('genesis.quorum', `must be 1..${admins} (the number of admin founders)`);
  body.trustedCaRoots.forEach((root, i) => requireDer(root, `genesis.trustedCaRoots[${i}]`, certificateBytesMax));
  if (body.recognition) validateRecognitionPolicy(body.recognition, 'genesis.recognition');
  if (body.freshnessBudgetMs <= 0n) throw new ValidationError('genesis.freshnessBudgetMs', 'must be positive');
  requireTime(body.createdAtMs, 'genesis.createdAtMs');
}

const genesisSigningBytes = (bodyBytes: Uint8Array): Buffer => Buffer.concat([genesisDomain, bodyBytes]);

/** A founder's signature over the body; made offline with the founder's own key. */
export function signGenesis(bodyBytes: Uint8Array, keyPair: Sm2KeyPair): GenesisSignature {
  const body = GenesisBody.decode(bodyBytes);
  const id = nodeIdOf(keyPair.publicKey);
  if (!body.founders.some((f) => nodeIdOf(f.publicKey) === id)) {
    throw new ValidationError('key', `node ${id.slice(0, 12)} is not a founder of "${body.allianceName}": only founders sign the genesis`);
  }
  return { nodeId: Buffer.from(id, 'hex'), signature: sign(keyPair.privateKey, genesisSigningBytes(bodyBytes), keyPair.publicKey) };
}

/** Adds or replaces one founder's signature. */
export function withSignature(genesis: Genesis, signature: GenesisSignature): Genesis {
  const others = genesis.signatures.filter((s) => !Buffer.from(s.nodeId).equals(signature.nodeId));
  return { body: genesis.body, signatures: [...others, signature].sort((a, b) => Buffer.compare(a.nodeId, b.nodeId)) };
}

export interface VerifiedGenesis {
  readonly body: GenesisBody;
  readonly allianceId: Buffer;
}

/**
 * The genesis, if its body is valid and every founder (and nobody else) signed
 * it. `partial` accepts missing founder signatures (to show progress while
 * drafting); present signatures must still verify.
 */
export function verifyGenesis(genesis: Genesis, options: { partial?: boolean } = {}): VerifiedGenesis & { missing: string[] } {
  let body: GenesisBody;
  try {
    body = GenesisBody.decode(genesis.body);
  } catch (error) {
    throw new ValidationError('genesis.body', `not a GenesisBody: ${(error as Error).message}`);
  }
  validateGenesisBody(body);
  const founders = new Map(body.founders.map((f) => [nodeIdOf(f.publicKey), f]));
  const signed = new Set<string>();
  genesis.signatures.forEach((s, i) => {
    const id = Buffer.from(s.nodeId).toString('hex');
    const founder = founders.get(id);
    if (!founder) throw new SignatureError(`genesis.signatures[${i}]: ${id.slice(0, 12)} is not a founder; only founders sign the genesis`);
    if (signed.has(id)) throw new ValidationError(`genesis.signatures[${i}]`, `a second signature by ${founder.city}`);
    if (!verify(founder.publicKey, genesisSigningBytes(genesis.body), s.signature)) {
      throw new SignatureError(`genesis.signatures[${i}]: the signature of ${founder.city} (${id.slice(0, 12)}) does not verify: the body was changed after signing, or it was signed with another key`);
    }
    signed.add(id);
  });
  const missing = [...founders].filter(([id]) => !signed.has(id)).map(([, f]) => f.city);
  if (missing.length > 0 && !options.partial) throw new SignatureError(`genesis: not signed by ${missing.join(', ')}; every founder signs`);
  return { body, allianceId: allianceIdOf(genesis.body), missing };
}

const possessionBytes = (allianceId: Uint8Array, member: Member): Buffer =>
  Buffer.concat([joinDomain, allianceId, Member.encode(member).finish()]);

/** The joining city's proof that it holds the key of the member record it asks to add. */
export function signAdmission(allianceId: Uint8Array, member: Member, keyPair: Sm2KeyPair): Buffer {
  if (!Buffer.from(member.publicKey).equals(keyPair.publicKey)) throw new ValidationError('member.publicKey', 'is not the public key of the signing key');
  return sign(keyPair.privateKey, possessionBytes(allianceId, member), keyPair.publicKey);
}

export function verifyAdmission(allianceId: Uint8Array, member: Member, signature: Uint8Array): boolean {
  return verify(member.publicKey, possessionBytes(allianceId, member), signature);
}

const rotationBytes = (nodeId: Uint8Array, newPublicKey: Uint8Array): Buffer => Buffer.concat([rotateDomain, nodeId, newPublicKey]);

/** A key rotation of `nodeId` to `next`, signed by the new key (the old key signs the proposal's entry). */
export function keyRotation(nodeId: Uint8Array, next: Sm2KeyPair, newTlsCertificate: Uint8Array = new Uint8Array(0)): KeyRotation {
  return {
    nodeId: Buffer.from(nodeId),
    newPublicKey: Buffer.from(next.publicKey),
    newKeySignature: sign(next.privateKey, rotationBytes(nodeId, next.publicKey), next.publicKey),
    newTlsCertificate: Buffer.from(newTlsCertificate),
  };
}

export function verifyRotation(rotation: KeyRotation): boolean {
  return verify(rotation.newPublicKey, rotationBytes(rotation.nodeId, rotation.newPublicKey), rotation.newKeySignature);
}
