import type { BackupHeader, BackupResponse } from '../../../gen/tongxing/api/v1/api.js';
import type { EquivocationProof, SignedHead } from '../../../gen/tongxing/log/v1/log.js';
import { SignatureError } from '../../../federation/errors.js';
import { rangeEntriesMax } from '../../../federation/limits.js';
import type { GovRecord } from '../../../federation/governance/state.js';
import { decodeRecord, toHex, zeroHash, type HashedEntry } from '../../../federation/log/entry.js';
import { verifyProof } from '../../../federation/log/equivocation.js';
import { verifyRange } from '../../../federation/log/verify.js';
import { verifyWithKeys } from '../../../federation/log/signer.js';
import type { StoredEntry } from '../../../federation/store/store.js';
import { readBackupFile } from './file.js';
import { BackupError, backupFormatVersion, privateStatePrefix } from './format.js';

// Verifying a backup as a pull is verified: chains up to heads the authors
// signed, with the keys of the genesis and of the governance records the
// backup itself holds.

/** What a backup is checked against: the alliance and its members' keys, as this node's configuration knows them. */
export interface BackupTrust {
  readonly allianceId: Uint8Array;
  /** Keys that may have signed `nodeId`'s heads at `hlc`, current first; empty for a non-member. */
  keysFor(nodeId: string, hlc: bigint): Uint8Array[];
  /** For messages: "Kunming (3f2a…)". */
  describe(nodeId: string): string;
}

/**
 * Where the trust comes from. Under governance the members are the genesis
 * founders plus whoever the governance records admitted (and with rotated
 * keys): `trustFor` is asked again with the governance records of the logs
 * verified so far, until every log verifies or no more can.
 */
export interface BackupTrustSource {
  readonly allianceId: Uint8Array;
  trustFor(records: readonly GovRecord[]): BackupTrust;
}

export type VerifiedBackupItem =
  | { readonly kind: 'header'; readonly header: BackupHeader; readonly entries: number }
  | { readonly kind: 'chunk'; readonly author: string; readonly entries: StoredEntry[]; readonly hashed: readonly HashedEntry[]; readonly head: SignedHead }
  | { readonly kind: 'proof'; readonly author: string; readonly proof: EquivocationProof }
  | { readonly kind: 'private'; readonly key: string; readonly value: Uint8Array };

export interface VerifyBackupOptions {
  /**
   * Logs whose author has no key here, or whose chunk a key here does not
   * sign, are not an error but left out (not yielded), with the reason in
   * `unverified`; everything else is checked as strictly. For finding the
   * trust under governance.
   */
  readonly lenient?: { readonly unverified: Map<string, string> };
}

/** The chunk is authentic as far as the data goes, but no key this trust knows signed it. */
class UntrustedError extends BackupError {}

/**
 * Checks a backup stream while passing it on: the header first and for this
 * alliance, every author a member, every chunk a hash chain from the
 * previous one up to a head its author signed (verifyRange, the check every
 * pull gets), every log complete, every proof valid, counts as the header
 * and trailer say. Throws BackupError at the first thing that is wrong.
 */
export async function* verifyBackup(messages: AsyncIterable<BackupResponse>, trust: BackupTrust, options: VerifyBackupOptions = {}): AsyncGenerator<VerifiedBackupItem> {
  const unverified = options.lenient?.unverified;
  let header: BackupHeader | undefined;
  let logIndex = 0;
  let tip = { seq: 0, hash: zeroHash as Uint8Array };
  let pending: Buffer[] = [];
  let chunks = 0;
  let entries = 0;
  const proofAuthors = new Set<string>();
  let privateStates = 0;
  let lastPrivateKey = '';
  let trailer = false;
  const authorAt = (i: number): string => toHex(header!.logs[i]!.author);

  for await (const message of messages) {
    const part = message.part;
    if (trailer) throw new BackupError('a message after the trailer');
    if (!header) {
      if (part?.$case !== 'header') throw new BackupError('the backup does not start with its header');
      header = part.value;
      if (header.formatVersion !== backupFormatVersion) {
        throw new BackupError(`backup format version ${header.formatVersion}; this build reads version ${backupFormatVersion}`);
      }
      if (!Buffer.from(header.allianceId).equals(Buffer.from(trust.allianceId))) {
        throw new BackupError(`the backup is of alliance ${toHex(header.allianceId).slice(0, 16)}…, this node's alliance is ${toHex(trust.allianceId).slice(0, 16)}…`);
      }
      let total = 0;
      for (const [i, log] of header.logs.entries()) {
        const author = toHex(log.author);
        if (i > 0 && author <= authorAt(i - 1)) throw new BackupError(`header.logs[${i}]: authors are not in ascending order`);
        if (log.entries < 1n || log.entries > BigInt(Number.MAX_SAFE_INTEGER)) throw new BackupError(`header.logs[${i}].entries: ${log.entries} is out of range`);
        if (trust.keysFor(author, 0n).length === 0) {
          const reason = `${author.slice(0, 12)} is not a member of this alliance`;
          if (!unverified) throw new BackupError(`header.logs[${i}]: ${reason}`);
          unverified.set(author, reason);
        }
        total += Number(log.entries);
      }
      yield { kind: 'header', header, entries: total };
      continue;
    }
    switch (part?.$case) {
      case 'chunk': {
        if (proofAuthors.size > 0 || privateStates > 0) throw new BackupError('a chunk after the proofs or private state');
        pending.push(...part.value.entries);
        if (pending.length > rangeEntriesMax) throw new BackupError(`a chunk of more than rangeEntriesMax (${rangeEntriesMax}) entries`);
        const signed = part.value.head;
        if (!signed) continue;
        const author = toHex(signed.head?.author ?? Buffer.alloc(0));
        // The log in hand is complete: the next chunk starts the next author's.
        while (logIndex < header.logs.length && tip.seq === Number(header.logs[logIndex]!.entries) && author !== authorAt(logIndex)) {
          logIndex++;
          tip = { seq: 0, hash: zeroHash };
        }
        if (logIndex >= header.logs.length || author !== authorAt(logIndex)) {
          const expected = logIndex < header.logs.length ? trust.describe(authorAt(logIndex)) : 'no more logs';
          throw new BackupError(`a chunk of ${trust.describe(author)} where the header has ${expected} after seq ${tip.seq}`);
        }
        const range = `${trust.describe(author)}: entries ${tip.seq + 1}..${tip.seq + pending.length}`;
        const headSeq = Number(signed.head!.seq);
        if (headSeq > Number(header.logs[logIndex]!.entries)) throw new BackupError(`${range}: beyond the ${header.logs[logIndex]!.entries} entries the header lists`);
        let verified: ReturnType<typeof verifySigned> | undefined;
        if (!unverified?.has(author)) {
          try {
            verified = verifySigned(signed, tip, pending, author, trust, range);
          } catch (error) {
            if (!(error instanceof UntrustedError) || !unverified) throw error;
            unverified.set(author, error.message);
          }
        }
        chunks++;
        entries += pending.length;
        if (verified) {
          const stored = verified.entries.map((e) => ({ author, seq: Number(e.entry.seq), bytes: e.bytes }));
          yield { kind: 'chunk', author, entries: stored, hashed: verified.entries, head: signed };
          tip = { seq: headSeq, hash: verified.head.entryHash };
        } else {
          // Left out: only the shape is followed (the author's chunks in order, up to its count).
          if (headSeq !== tip.seq + pending.length) throw new BackupError(`${range}: a head at seq ${headSeq}`);
          tip = { seq: headSeq, hash: signed.head!.entryHash };
        }
        pending = [];
        break;
      }
      case 'proof': {
        if (pending.length > 0) throw new BackupError('entries without a head before the proofs');
        if (privateStates > 0) throw new BackupError('a proof after the private state');
        const proof = part.value;
        const author = toHex(proof.first?.head?.author ?? Buffer.alloc(0));
        if (proofAuthors.has(author)) throw new BackupError(`two equivocation proofs about ${trust.describe(author)}`);
        proofAuthors.add(author);
        const [key] = trust.keysFor(author, 0n);
        if (!key) {
          const reason = `an equivocation proof about ${author.slice(0, 12) || 'nobody'}, not a member`;
          if (!unverified) throw new BackupError(reason);
          unverified.set(author, reason);
          break;
        }
        try {
          verifyProof(proof, key, trust.allianceId);
        } catch (error) {
          throw new BackupError(`the equivocation proof about ${trust.describe(author)} does not verify: ${(error as Error).message}`);
        }
        yield { kind: 'proof', author, proof };
        break;
      }
      case 'privateState': {
        if (pending.length > 0) throw new BackupError('entries without a head before the private state');
        const { key, value } = part.value;
        if (!key.startsWith(privateStatePrefix) || key <= lastPrivateKey) throw new BackupError(`private state key ${JSON.stringify(key.slice(0, 80))} is not under ${privateStatePrefix} in ascending order`);
        if (++privateStates > header.privateStates) throw new BackupError(`more private state than the ${header.privateStates} keys the header lists`);
        lastPrivateKey = key;
        yield { kind: 'private', key, value };
        break;
      }
      case 'trailer': {
        if (pending.length > 0) throw new BackupError(`${pending.length} entries without a head at the end`);
        if (BigInt(privateStates) !== header.privateStates) throw new BackupError(`${privateStates} private state keys; the header lists ${header.privateStates}`);
        const complete = logIndex === header.logs.length || (logIndex === header.logs.length - 1 && tip.seq === Number(header.logs[logIndex]!.entries));
        if (!complete) {
          const author = logIndex < header.logs.length ? trust.describe(authorAt(logIndex)) : '';
          throw new BackupError(`the backup ends before its logs do: ${author} at seq ${tip.seq} of ${header.logs[logIndex]?.entries}`);
        }
        if (proofAuthors.size !== header.proofs) throw new BackupError(`${proofAuthors.size} equivocation proofs; the header lists ${header.proofs}`);
        if (part.value.chunks !== BigInt(chunks) || part.value.entries !== BigInt(entries)) {
          throw new BackupError(`the trailer counts ${part.value.chunks} chunks and ${part.value.entries} entries; the backup holds ${chunks} and ${entries}`);
        }
        trailer = true;
        break;
      }
      default:
        throw new BackupError(`an unexpected ${part?.$case ?? 'empty'} message`);
    }
  }
  if (!header) throw new BackupError('the backup is empty');
  if (!trailer) throw new BackupError('the backup ends without its trailer: the stream was cut short');
}

/** verifyRange with the author's current key, then its retired ones (log/signer.ts, as the replica does). */
function verifySigned(signed: SignedHead, tip: { seq: number; hash: Uint8Array }, entries: Buffer[], author: string, trust: BackupTrust, range: string) {
  const keys = trust.keysFor(author, signed.head?.hlc ?? 0n);
  if (keys.length === 0) throw new UntrustedError(`${range}: ${author.slice(0, 12)} is not a member of this alliance`);
  try {
    return verifyWithKeys(keys, (publicKey) => verifyRange({ allianceId: trust.allianceId, publicKey, signedHead: signed, tip, entries })).result;
  } catch (error) {
    const message = `${range}: ${(error as Error).message}`;
    throw error instanceof SignatureError ? new UntrustedError(message) : new BackupError(message);
  }
}

/** The governance records among verified entries (what can change the trust). */
function governanceRecords(author: string, hashed: readonly HashedEntry[]): GovRecord[] {
  const found: GovRecord[] = [];
  for (const { entry, hash } of hashed) {
    let kind;
    try {
      kind = decodeRecord(entry).kind;
    } catch {
      continue; // an undecodable record is no governance record (views reject it)
    }
    if (kind?.$case === 'governanceProposal' || kind?.$case === 'governanceApproval') {
      found.push({ author, seq: Number(entry.seq), hlc: entry.hlc, hash: hash.toString('hex'), record: kind });
    }
  }
  return found;
}

/**
 * Verifies a whole backup file and returns the trust it verified under: the
 * trust is widened by the governance records of the logs verified with it
 * until every log verifies (or a strict pass names what does not).
 */
export async function verifyBackupFile(file: string, source: BackupTrustSource, onProgress?: (done: number, total: number) => void): Promise<BackupTrust> {
  let records: GovRecord[] = [];
  for (;;) {
    const trust = source.trustFor(records);
    const unverified = new Map<string, string>();
    const found: GovRecord[] = [];
    let total = 0;
    let done = 0;
    for await (const item of verifyBackup(readBackupFile(file), trust, { lenient: { unverified } })) {
      if (item.kind === 'header') total = item.entries;
      else if (item.kind === 'chunk') {
        found.push(...governanceRecords(item.author, item.hashed));
        onProgress?.((done += item.entries.length), total);
      }
    }
    if (unverified.size === 0) return trust;
    if (found.length <= records.length) {
      // No new governance records: nothing more can verify. A strict pass says what fails and where.
      for await (const _ of verifyBackup(readBackupFile(file), trust)); // eslint-disable-line @typescript-eslint/no-unused-vars
      throw new BackupError([...unverified.values()][0]!);
    }
    records = found;
  }
}
