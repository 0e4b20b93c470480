import type { CertificateRecord, CertificateRevocation, CertificateRevocationList } from '../../gen/tongxing/records/v1/records.js';
import {
  checkCertificateRecord,
  checkCrlRecord,
  recordCertificate,
  serialNumberKey,
  type CertificateFacts,
  type CertificateRefusal,
  type RevocationFact,
  type StandingInput,
} from '../certificates.js';
import type { StateChange } from '../store/store.js';
import { compareProvenance, encodeView, type Provenance } from './provenance.js';

// Certificate view, keyed by issuer and serial (what revocations and CRLs name):
// a function of the SET of certificate records and revocations, so any arrival
// order gives the same answer on every node.
// - view/cert/<issuer name hash>/<serial>: each author's earliest record, accepted
//   (chained to a root trusted at its hlc) or refused with the reason; the
//   earliest accepted one by (hlc, author) binds the holder.
// - view/revoked/<issuer name hash>/<serial>/<revoked at ms>/<author>: one key per
//   revocation fact, written blind (no read): a CRL revokes many certificates in
//   one entry, and a revocation counts whatever else is recorded, before or after.
//   Keys sort by revocation time, so the first one answers "revoked at t?".

export const certificateKey = (issuerNameHash: string, serialNumber: string): string => `view/cert/${issuerNameHash}/${serialNumber}`;

export const revocationPrefix = (issuerNameHash: string, serialNumber: string): string => `view/revoked/${issuerNameHash}/${serialNumber}/`;

export const revocationKey = (issuerNameHash: string, serialNumber: string, revokedAtMs: number, author: string): string =>
  `${revocationPrefix(issuerNameHash, serialNumber)}${revokedAtMs.toString().padStart(16, '0')}/${author}`;

export type Holder = { readonly uscc: string; readonly expertRef?: undefined } | { readonly expertRef: string; readonly uscc?: undefined };

export interface CertificateRecording {
  readonly at: Provenance;
  readonly holder: Holder;
  readonly facts: CertificateFacts;
}

export interface CertificateRefusalAt {
  readonly at: Provenance;
  readonly refusal: CertificateRefusal;
  readonly message: string;
}

export interface CertificateView {
  /** Accepted records, each author's earliest, in provenance order: the first binds the holder. */
  readonly recordings: CertificateRecording[];
  /** Refused records, each author's earliest, in provenance order. */
  readonly refusals: CertificateRefusalAt[];
}

export interface RevocationView {
  readonly at: Provenance;
  readonly revokedAtMs: number;
  readonly reason: number;
  readonly fromCrl: boolean;
}

/** The view key of a certificate record; undefined when its certificate does not parse (the record is rejected). */
export function certificateKeyOf(record: CertificateRecord): string | undefined {
  const leaf = recordCertificate(record);
  return 'ok' in leaf ? certificateKey(leaf.ok.issuerNameHash, serialNumberKey(leaf.ok.serialNumber)) : undefined;
}

export function holderOf(record: CertificateRecord): Holder {
  const holder = record.holder!;
  return holder.$case === 'entityUscc' ? { uscc: holder.value } : { expertRef: holder.value };
}

/**
 * Applies one certificate record; `roots` are those trusted at its hlc and
 * `recordedAtMs` its hlc's wall time. A refused record is kept in the view (a
 * login can then say "untrusted CA" rather than "not recorded") and its
 * reason is returned for view/rejected/.
 */
export function applyCertificateRecord(
  view: CertificateView | undefined,
  at: Provenance,
  record: CertificateRecord,
  roots: readonly Uint8Array[],
  recordedAtMs: number,
): { view: CertificateView; rejection?: string } {
  const checked = checkCertificateRecord(record, roots, recordedAtMs);
  const recordings = view?.recordings ?? [];
  const refusals = view?.refusals ?? [];
  if (!('ok' in checked)) {
    return { view: { recordings, refusals: earliestPerAuthor(refusals, { at, refusal: checked.refusal, message: checked.message }) }, rejection: checked.message };
  }
  return { view: { recordings: earliestPerAuthor(recordings, { at, holder: holderOf(record), facts: checked.ok }), refusals } };
}

function earliestPerAuthor<T extends { at: Provenance }>(list: readonly T[], item: T): T[] {
  const own = list.find((x) => x.at.author === item.at.author);
  if (own && compareProvenance(own.at, item.at) <= 0) return list.slice();
  return [...list.filter((x) => x !== own), item].sort((a, b) => compareProvenance(a.at, b.at));
}

/** A member's revocation: one index key. */
export function revocationChanges(at: Provenance, revocation: CertificateRevocation): StateChange[] {
  const value: RevocationView = { at, revokedAtMs: Number(revocation.revokedAtMs), reason: revocation.reason, fromCrl: false };
  return [{ key: revocationKey(revocation.issuerNameHash, revocation.serialNumber, value.revokedAtMs, at.author), value: encodeView(value) }];
}

/** A CRL import: one index key per certificate it lists, or why the CRL does not count. */
export function crlChanges(at: Provenance, record: CertificateRevocationList, roots: readonly Uint8Array[]): { changes: StateChange[] } | { rejection: string } {
  const checked = checkCrlRecord(record, roots);
  if (!('ok' in checked)) return { rejection: checked.message };
  const { issuerNameHash, entries } = checked.ok;
  return {
    changes: entries.map((e) => {
      const value: RevocationView = { at, revokedAtMs: e.revokedAtMs, reason: e.reason, fromCrl: true };
      return { key: revocationKey(issuerNameHash, e.serialNumber, e.revokedAtMs, at.author), value: encodeView(value) };
    }),
  };
}

export interface ResolvedCertificate {
  readonly recording: CertificateRecording | undefined;
  readonly observations: CertificateRecording[];
  readonly refusals: CertificateRefusalAt[];
  readonly revocations: RevocationView[];
}

/** What the views say, leaving out authors the caller excludes (e.g. quarantined ones). */
export function resolveCertificate(
  view: CertificateView | undefined,
  revocations: readonly RevocationView[],
  excluded: (author: string) => boolean = () => false,
): ResolvedCertificate {
  const recordings = (view?.recordings ?? []).filter((r) => !excluded(r.at.author));
  return {
    recording: recordings[0],
    observations: recordings.slice(1),
    refusals: (view?.refusals ?? []).filter((r) => !excluded(r.at.author)),
    revocations: revocations.filter((r) => !excluded(r.at.author)).sort((a, b) => a.revokedAtMs - b.revokedAtMs),
  };
}

/**
 * How a new record of a certificate by `author` meets what is recorded: the
 * earliest accepted recording binds the holder (resolveCertificate), so once
 * one exists another record counts for nothing but an observation. `retry`:
 * it is `author`'s own recording of this certificate for this holder.
 */
export type RecordingStanding = { readonly standing: 'unrecorded' } | { readonly standing: 'recorded'; readonly recording: CertificateRecording; readonly retry: boolean };

export function recordingStanding(resolved: ResolvedCertificate, author: string, record: CertificateRecord, der: string): RecordingStanding {
  const recording = resolved.recording;
  if (!recording) return { standing: 'unrecorded' };
  const holder = holderOf(record);
  const retry = recording.at.author === author && recording.facts.der === der && recording.holder.uscc === holder.uscc && recording.holder.expertRef === holder.expertRef;
  return { standing: 'recorded', recording, retry };
}

export function standingOf(resolved: ResolvedCertificate): StandingInput {
  return {
    facts: resolved.recording?.facts,
    refusals: resolved.refusals.map(({ refusal, message }) => ({ refusal, message })),
    revocations: resolved.revocations.map((r): RevocationFact => ({ revokedAtMs: r.revokedAtMs, author: r.at.author, fromCrl: r.fromCrl })),
  };
}
