import { Verdict, type CheckSanctionsRequest, type CheckSanctionsResponse, type MemberFreshness, type Provenance as ApiProvenance } from '../gen/tongxing/api/v1/api.js';
import { TenderVerdict, type CheckTenderRequest, type TenderCheckAnswer } from '../gen/tongxing/api/v1/credit.js';
import { EvidenceBody, EvidenceBundle } from '../gen/tongxing/api/v1/evidence.js';
import type { SignedHead } from '../gen/tongxing/log/v1/log.js';
import { assertPublicKey, nodeIdOf, sign, verify, type Sm2KeyPair } from './crypto/sm2.js';
import { EncodingError, TongxingError } from './errors.js';
import { evidenceAttemptsMax } from './limits.js';
import { toHex } from './log/entry.js';
import { verifyHead } from './log/head.js';
import type { Membership } from './membership.js';
import type { Store } from './store/store.js';

// Evidence bundles: a sanctions check an answering node signs, with the signed
// heads of every member log it read, so a bid file can carry proof of "not
// restricted at bid opening" that anyone verifies offline with the alliance's
// member keys. The body is kept as encoded bytes; the signature covers them
// with a context string, so a bundle cannot be mistaken for any other
// signed Tongxing object.

export const evidenceSigningContext = Buffer.from('tongxing-evidence');

/** What signs evidence: the answering node's key (or an HSM holding it). */
export interface EvidenceSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export function keyPairSigner(keyPair: Sm2KeyPair): EvidenceSigner {
  return { publicKey: keyPair.publicKey, sign: (message) => sign(keyPair.privateKey, message, keyPair.publicKey) };
}

const signingBytes = (body: Uint8Array): Buffer => Buffer.concat([evidenceSigningContext, body]);

/** Encodes and signs a body: the bytes of an EvidenceBundle. */
export function signEvidence(body: EvidenceBody, signer: EvidenceSigner): Uint8Array {
  const bodyBytes = EvidenceBody.encode(body).finish();
  return EvidenceBundle.encode({ body: Buffer.from(bodyBytes), signature: Buffer.from(signer.sign(signingBytes(bodyBytes))) }).finish();
}

/** A node busy storing new entries while a check ran: no consistent heads to sign over. */
export class EvidenceBusyError extends TongxingError {
  override name = 'EvidenceBusyError';
}

/**
 * Runs `check` between two reads of the store's latest heads and returns both
 * when the heads did not move: the answer was computed from exactly those
 * logs. Retries up to evidenceAttemptsMax times, then EvidenceBusyError.
 */
export async function withStableHeads<T>(store: Store, check: () => Promise<T>): Promise<{ result: T; heads: SignedHead[] }> {
  const signature = (heads: readonly SignedHead[]) => heads.map((h) => `${toHex(h.head!.author)}:${h.head!.seq}`).join(',');
  for (let attempt = 1; attempt <= evidenceAttemptsMax; attempt++) {
    const before = await store.latestHeads();
    const result = await check();
    const after = await store.latestHeads();
    if (signature(before) === signature(after)) return { result, heads: after };
  }
  throw new EvidenceBusyError(`the node stored new entries during each of ${evidenceAttemptsMax} tries: retry the check with evidence`);
}

/** The member keys (and alliance) a verifier trusts: from the alliance file or genesis. */
export interface EvidenceAlliance {
  readonly allianceId: Uint8Array;
  /** SM2 public key of a member by node id (hex), undefined for a non-member. */
  keyOf(nodeId: string): Uint8Array | undefined;
  cityOf?(nodeId: string): string | undefined;
}

export type EvidenceStatus = 'verified' | 'invalid' | 'unverified-heads';

export interface EvidenceVerdict {
  /** verified: everything checked; invalid: something does not verify (see problems); unverified-heads: signature fine, but no alliance to check heads and membership against. */
  readonly status: EvidenceStatus;
  readonly problems: string[];
  /** Members whose keys came from the bundle (the answering node vouches for them), not from the alliance given. */
  readonly vouched: string[];
  readonly body: EvidenceBody | undefined;
  readonly nodeId: string | undefined;
  readonly headsChecked: number;
}

/**
 * Verifies an evidence bundle offline: the answering node's signature (its node id
 * is SM3 of the key in the bundle), that the answer is consistent with the query and
 * the heads (each sanction at or below its issuer's head, each member's seq its
 * head's), and, given the alliance, that the node is a member and every head is a
 * member's valid signature in this alliance.
 */
export function verifyEvidence(bundleBytes: Uint8Array, alliance?: EvidenceAlliance): EvidenceVerdict {
  const problems: string[] = [];
  const fail = (problem: string, body?: EvidenceBody, nodeId?: string): EvidenceVerdict => ({ status: 'invalid', problems: [problem], vouched: [], body, nodeId, headsChecked: 0 });
  let bundle: EvidenceBundle;
  let body: EvidenceBody;
  try {
    bundle = EvidenceBundle.decode(bundleBytes);
    body = EvidenceBody.decode(bundle.body);
  } catch (error) {
    return fail(`not an evidence bundle: ${(error as Error).message}`);
  }
  if (bundle.body.length === 0) return fail('not an evidence bundle: no body');
  let nodeId: string;
  try {
    assertPublicKey(body.nodePublicKey);
    nodeId = body.nodeId.length > 0 ? toHex(body.nodeId) : nodeIdOf(body.nodePublicKey);
  } catch (error) {
    return fail(`the answering node's public key is not an SM2 point: ${(error as Error).message}`, body);
  }
  let signed: boolean;
  try {
    signed = verify(body.nodePublicKey, signingBytes(bundle.body), bundle.signature);
  } catch (error) {
    if (!(error instanceof EncodingError)) throw error;
    signed = false;
  }
  if (!signed) return fail(`the signature does not verify under the answering node's key (node id ${nodeId}): the bundle was altered or not signed by that node`, body, nodeId);

  const claims = claimsOf(body);
  if ('problem' in claims) return fail(claims.problem, body, nodeId);
  problems.push(...claims.problems);

  const heads = new Map<string, SignedHead>();
  for (const signedHead of body.heads) {
    const author = toHex(signedHead.head?.author ?? Buffer.alloc(0));
    if (heads.has(author)) problems.push(`two heads of member ${author.slice(0, 12)}`);
    heads.set(author, signedHead);
  }
  const headSeq = (author: string): bigint => heads.get(author)?.head?.seq ?? 0n;
  for (const record of claims.records) {
    const author = toHex(record.at?.author ?? Buffer.alloc(0));
    if (record.at === undefined || record.at.seq > headSeq(author)) {
      problems.push(`${record.what} of ${author.slice(0, 12)} is not covered by the heads in the bundle`);
    }
  }
  for (const f of claims.freshness) {
    const member = toHex(f.nodeId);
    if (f.seq !== headSeq(member)) problems.push(`member ${f.city || member.slice(0, 12)}: the answer says seq ${f.seq}, its head in the bundle ${headSeq(member)}`);
  }

  let headsChecked = 0;
  const vouched = new Set<string>();
  if (alliance) {
    if (!Buffer.from(alliance.allianceId).equals(body.allianceId)) {
      problems.push(`the bundle is for alliance ${toHex(body.allianceId).slice(0, 16)}…, not ${toHex(alliance.allianceId).slice(0, 16)}…`);
    }
    const offered = new Map(body.members.map((m) => [toHex(m.nodeId), m]));
    const nameOf = (id: string) => alliance.cityOf?.(id) || offered.get(id)?.city || id.slice(0, 12);
    /** The alliance's key first; keys the bundle offers only for members the alliance given does not settle. */
    const keysOf = (id: string): Array<{ key: Uint8Array; vouched: boolean }> => [
      ...[alliance.keyOf(id)].filter((k): k is Uint8Array => k !== undefined).map((key) => ({ key, vouched: false })),
      ...(offered.get(id)?.publicKeys ?? []).map((key) => ({ key: key as Uint8Array, vouched: true })),
    ];
    const nodeKey = keysOf(nodeId).find((k) => Buffer.from(k.key).equals(body.nodePublicKey));
    if (!nodeKey) problems.push(`the answering node ${nodeId.slice(0, 12)} is not a member of the alliance`);
    else if (nodeKey.vouched) vouched.add(nodeId);
    for (const [author, signedHead] of heads) {
      const keys = keysOf(author);
      if (keys.length === 0) {
        problems.push(`head of ${author.slice(0, 12)}: not a member of the alliance`);
        continue;
      }
      let firstError: unknown;
      const signer = keys.find(({ key }) => {
        try {
          verifyHead(signedHead, key, alliance.allianceId, author);
          return true;
        } catch (error) {
          if (!(error instanceof TongxingError)) throw error;
          firstError ??= error;
          return false;
        }
      });
      if (!signer) {
        problems.push(`head of ${nameOf(author)}: ${(firstError as Error).message}`);
        continue;
      }
      if (signer.vouched) vouched.add(author);
      headsChecked++;
    }
  }
  const status: EvidenceStatus = problems.length > 0 ? 'invalid' : alliance ? 'verified' : 'unverified-heads';
  return { status, problems, vouched: [...vouched], body, nodeId, headsChecked };
}

/** What a body's answer asserts that the heads must cover: the records it cites and each member's seq. */
interface Claims {
  readonly problems: string[];
  readonly records: Array<{ readonly what: string; readonly at: ApiProvenance | undefined }>;
  readonly freshness: readonly MemberFreshness[];
}

/** The claims of a sanctions check or of a tender check (一标一查), with what is inconsistent in the answer itself. */
function claimsOf(body: EvidenceBody): Claims | { problem: string } {
  if (body.tenderAnswer) {
    if (!body.tenderQuery) return { problem: 'the bundle has a tender answer but no tender query' };
    return tenderClaims(body.tenderQuery, body.tenderAnswer);
  }
  const query = body.query;
  const answer = body.answer;
  if (!query || !answer) return { problem: 'the bundle has no query or no answer' };
  const problems: string[] = [];
  if (query.atMs !== 0n && query.atMs !== answer.atMs) problems.push(`the answer is for ${answer.atMs}, the query asked for ${query.atMs}`);
  if ((answer.verdict === Verdict.VERDICT_RESTRICTED) !== (answer.sanctions.length > 0)) problems.push('the verdict does not match the sanctions listed');
  return { problems, records: answer.sanctions.map((s) => ({ what: `sanction ${s.sanction?.sanctionId ?? '?'}`, at: s.issued })), freshness: answer.freshness };
}

function tenderClaims(query: CheckTenderRequest, answer: TenderCheckAnswer): Claims {
  const problems: string[] = [];
  if (query.atMs !== 0n && query.atMs !== answer.atMs) problems.push(`the answer is for ${answer.atMs}, the query asked for ${query.atMs}`);
  if (query.projectCode !== answer.projectCode) problems.push(`the answer is for project ${answer.projectCode}, the query asked for ${query.projectCode}`);
  const asked = query.bidders.map((b) => b.uscc).join();
  if (asked !== answer.bidders.map((b) => b.uscc).join()) problems.push('the bidders answered are not the bidders asked, in order');
  const flagged = answer.bidders.some((b) => b.flags.length > 0);
  if (flagged !== (answer.verdict === TenderVerdict.TENDER_VERDICT_FLAGGED)) problems.push('the verdict does not match the bidders flagged');
  const records: Claims['records'] = [];
  for (const bidder of answer.bidders) {
    const restricted = bidder.sanctions.some((s) => s.recognised);
    if (restricted !== (bidder.sanctionsVerdict === Verdict.VERDICT_RESTRICTED)) problems.push(`bidder ${bidder.uscc}: its sanctions verdict does not match the sanctions listed`);
    for (const s of bidder.sanctions) records.push({ what: `sanction ${s.sanction?.sanctionId ?? '?'} on ${bidder.uscc}`, at: s.issued });
    for (const c of bidder.credit?.contributions ?? []) records.push({ what: `credit record ${c.recordId} of ${bidder.uscc}`, at: c.recorded });
  }
  return { problems, records, freshness: answer.freshness };
}

/** The body of a bundle for this answer; freshness seqs are replaced by the seqs of `heads` (see EvidenceBody.answer). */
export function evidenceBody(
  init: {
    allianceId: Uint8Array;
    signer: EvidenceSigner;
    /** The answering node's member id (differs from SM3 of the signer's key after a rotation). */
    nodeId?: string;
    city: string;
    answeredAtMs: number;
    heads: readonly SignedHead[];
    /** The answering node's membership: the keys a verifier without later governance records needs. */
    members?: Membership;
  } & ({ query: CheckSanctionsRequest; answer: CheckSanctionsResponse } | { tenderQuery: CheckTenderRequest; tenderAnswer: TenderCheckAnswer }),
): EvidenceBody {
  const seqs = new Map(init.heads.map((h) => [toHex(h.head!.author), h.head!.seq]));
  const withHeadSeqs = (freshness: readonly MemberFreshness[]) => freshness.map((f) => ({ ...f, seq: seqs.get(toHex(f.nodeId)) ?? 0n }));
  const check =
    'query' in init
      ? { query: { ...init.query, evidence: false }, answer: { ...init.answer, evidence: Buffer.alloc(0), freshness: withHeadSeqs(init.answer.freshness) } }
      : { query: undefined, answer: undefined, tenderQuery: init.tenderQuery, tenderAnswer: { ...init.tenderAnswer, freshness: withHeadSeqs(init.tenderAnswer.freshness) } };
  return {
    allianceId: Buffer.from(init.allianceId),
    nodePublicKey: Buffer.from(init.signer.publicKey),
    nodeCity: init.city,
    answeredAtMs: BigInt(init.answeredAtMs),
    ...check,
    heads: [...init.heads],
    members: [...new Set([...init.heads.map((h) => toHex(h.head!.author)), ...(init.nodeId ? [init.nodeId] : [])])].flatMap((id) => {
      const member = init.members?.get(id);
      if (!member) return [];
      const hlc = init.heads.find((h) => toHex(h.head!.author) === id)?.head?.hlc ?? 0n;
      return [{ nodeId: Buffer.from(id, 'hex'), city: member.city, publicKeys: init.members!.keysFor(id, hlc).map((k) => Buffer.from(k)) }];
    }),
    nodeId: Buffer.from(init.nodeId ?? '', 'hex'),
  };
}
