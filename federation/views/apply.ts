import { SanctionIssue, SanctionLift, type Record } from '../../gen/tongxing/records/v1/records.js';
import { TongxingError } from '../errors.js';
import { govRecordChange, isGovernanceEntry } from '../governance/records.js';
import { hlcWallMs } from '../log/hlc.js';
import { decodeRecord, type HashedEntry } from '../log/entry.js';
import { validateRecord } from '../records/validate.js';
import type { StateChange } from '../store/store.js';
import { alertChange } from './alert.js';
import { applyCertificateRecord, certificateKeyOf, crlChanges, revocationChanges, type CertificateView } from './certificate.js';
import { applyCreditRecord, creditViewKey, isCreditViewKind, type CreditView } from './credit.js';
import { applyEntityRegistration, applyEntityUpdate, entityKey, type EntityView } from './entity.js';
import { applyEvaluationRecord, evaluationViewKey, isEvaluationKind } from './evaluation.js';
import { applyExpertAvailability, applyExpertProfile, expertKey, type ExpertView } from './expert.js';
import { openPolicy, type ViewPolicy } from './policy.js';
import { applyOptOut, optOutKey, type OptOutView } from './recognition.js';
import { decodeView, encodeView, type Provenance } from './provenance.js';
import { issueRefusal, liftRefusal, sanctionKey, subjectIndexKey, subjectKey, type SanctionView } from './sanction.js';

/** A verified entry, as views see it. */
export interface ViewEntry {
  readonly author: string;
  readonly seq: number;
  readonly hlc: bigint;
  /** The entry hash: what governance approvals name. */
  readonly hash: Uint8Array;
  readonly record: Record;
}

/**
 * Decodes and validates the records of verified entries for the views. An
 * invalid record stays in its author's log but counts for nothing: it is
 * recorded under view/rejected/ with the reason, identically on every node.
 * `validated`: this node's own batch, just validated record by record as it
 * was appended (LogWriter.append), so only decoded here; every entry read
 * from a peer or back from the store is validated.
 */
export function prepareViewEntries(author: string, hashed: readonly HashedEntry[], validated = false): { entries: ViewEntry[]; rejected: StateChange[] } {
  const entries: ViewEntry[] = [];
  const rejected: StateChange[] = [];
  for (const { entry, hash } of hashed) {
    const seq = Number(entry.seq);
    try {
      const record = decodeRecord(entry);
      if (!validated) validateRecord(record);
      entries.push({ author, seq, hlc: entry.hlc, hash, record });
    } catch (error) {
      if (!(error instanceof TongxingError)) throw error;
      rejected.push({ key: rejectionKey(author, seq), value: encodeView({ reason: error.message }) });
    }
  }
  return { entries, rejected };
}

/** A stored record that the views ignore, with the reason (the same on every node). */
export interface Rejection {
  readonly author: string;
  readonly seq: number;
  readonly reason: string;
}

export const rejectionKey = (author: string, seq: number): string => `view/rejected/${author}/${seq.toString().padStart(16, '0')}`;

export type ReadState = (keys: string[]) => Promise<Array<Uint8Array | undefined>>;

/** The view key a record reads and writes; undefined for records views do not index (yet). */
function viewKeyOf(entry: ViewEntry): string | undefined {
  const kind = entry.record.kind;
  switch (kind?.$case) {
    case 'entityRegistration':
    case 'entityUpdate':
      return entityKey(kind.value.profile!.uscc);
    case 'sanctionIssue':
    case 'sanctionLift':
      return sanctionKey(entry.author, kind.value.sanctionId);
    case 'expertProfile':
    case 'expertAvailability':
      return expertKey(kind.value.expertRef);
    case 'certificateRecord':
      return certificateKeyOf(kind.value);
    case 'sanctionOptOut':
      return optOutKey(Buffer.from(kind.value.issuer).toString('hex'), kind.value.sanctionId, entry.author);
    default:
      if (kind && isCreditViewKind(kind)) return creditViewKey(kind, entry.author);
      return kind && isEvaluationKind(kind) ? evaluationViewKey(kind, entry.author) : undefined;
  }
}

/**
 * Records that only add index keys, written without reading (revocations, CRLs,
 * watch alerts; see views/certificate.ts and views/alert.ts), and certificate
 * records whose certificate does not parse; undefined for every other kind.
 */
function planIndexed(entry: ViewEntry, at: Provenance, policy: ViewPolicy): { changes: StateChange[] } | { rejection: string } | undefined {
  const kind = entry.record.kind!;
  switch (kind.$case) {
    case 'certificateRevocation':
      return { changes: revocationChanges(at, kind.value) };
    case 'certificateRevocationList':
      return crlChanges(at, kind.value, policy.trustedRoots(entry.hlc));
    case 'watchAlert':
      return { changes: [alertChange(at, kind.value)] };
    case 'certificateRecord':
      return certificateKeyOf(kind.value) === undefined ? { rejection: 'certificate does not parse as an SM2 X.509 certificate' } : undefined;
    default:
      return undefined;
  }
}

/**
 * The view changes for a batch of verified entries, in log order per author.
 * Reads every key the batch touches in ONE call (a LevelDB getMany), then
 * applies the records in order over an overlay, so later entries of the
 * batch see earlier ones. Pure apart from `read`.
 */
export async function planViews(entries: readonly ViewEntry[], read: ReadState, policy: ViewPolicy = openPolicy): Promise<StateChange[]> {
  const keys = [...new Set(entries.map(viewKeyOf).filter((k): k is string => k !== undefined))];
  const values = await read(keys);
  const overlay = new Map<string, unknown>(keys.map((k, i) => [k, decodeView(values[i])]));
  const touched = new Set<string>();
  const set = (key: string, value: unknown) => {
    overlay.set(key, value);
    touched.add(key);
  };
  const extra: StateChange[] = [];

  for (const entry of entries) {
    // Governance judges its own records (governance/state.ts): they are kept whoever wrote them.
    if (isGovernanceEntry(entry)) {
      extra.push(govRecordChange(entry));
      continue;
    }
    const reject = (reason: string) => extra.push({ key: rejectionKey(entry.author, entry.seq), value: encodeView({ reason }) });
    const refusal = policy.refusal(entry.author, entry.hlc, entry.record.kind!.$case);
    if (refusal !== undefined) {
      reject(refusal);
      continue;
    }
    const at: Provenance = { author: entry.author, seq: entry.seq, hlc: entry.hlc.toString() };
    const indexed = planIndexed(entry, at, policy);
    if (indexed !== undefined) {
      if ('rejection' in indexed) reject(indexed.rejection);
      else extra.push(...indexed.changes);
      continue;
    }
    const key = viewKeyOf(entry);
    if (key === undefined) continue;
    const kind = entry.record.kind!;
    const current = overlay.get(key);
    switch (kind.$case) {
      case 'entityRegistration':
        set(key, applyEntityRegistration(current as EntityView | undefined, at, kind.value.profile!));
        break;
      case 'entityUpdate':
        set(key, applyEntityUpdate(current as EntityView | undefined, at, kind.value.profile!));
        break;
      case 'sanctionIssue': {
        if (issueRefusal(current as SanctionView | undefined)) {
          reject(`sanction id ${kind.value.sanctionId} was already issued by this member`);
          break;
        }
        set(key, { issue: SanctionIssue.toJSON(kind.value), issued: at } satisfies SanctionView);
        const subject = subjectKey(kind.value.subject);
        extra.push({ key: subjectIndexKey(subject, entry.author, kind.value.sanctionId), value: new Uint8Array(0) });
        break;
      }
      case 'sanctionLift': {
        const view = current as SanctionView | undefined;
        const refusal = liftRefusal(view);
        if (refusal?.refusal === 'not-issued') reject(`no sanction ${kind.value.sanctionId} issued by this member to lift`);
        else if (refusal?.refusal === 'already-lifted') reject(`sanction ${kind.value.sanctionId} is already lifted`);
        else set(key, { ...view!, lift: { lift: SanctionLift.toJSON(kind.value), lifted: at } } satisfies SanctionView);
        break;
      }
      case 'expertProfile':
        set(key, applyExpertProfile(current as ExpertView | undefined, at, kind.value));
        break;
      case 'expertAvailability':
        set(key, applyExpertAvailability(current as ExpertView | undefined, at, kind.value));
        break;
      case 'sanctionOptOut':
        set(key, applyOptOut(current as OptOutView | undefined, at, kind.value));
        break;
      case 'certificateRecord': {
        const applied = applyCertificateRecord(current as CertificateView | undefined, at, kind.value, policy.trustedRoots(entry.hlc), hlcWallMs(entry.hlc));
        set(key, applied.view);
        if (applied.rejection !== undefined) reject(applied.rejection);
        break;
      }
      case 'evaluationSession':
      case 'evaluationDraw':
      case 'evaluationOutcome':
      case 'evaluationScore':
      case 'expertLease': {
        const applied = applyEvaluationRecord(kind, current, at, entry.hlc); // federation/views/evaluation.ts
        if (applied && 'reject' in applied) reject(applied.reject);
        else if (applied) set(key, applied.view);
        break;
      }
      case 'performanceEvaluation':
      case 'venueMisconduct':
      case 'mutualEvaluation':
      case 'thirdPartyRating':
      case 'honourEntry':
      case 'creditLift': {
        const applied = applyCreditRecord(kind, current as CreditView | undefined, at); // federation/views/credit.ts
        if ('reject' in applied) reject(applied.reject);
        else {
          set(key, applied.view);
          extra.push(...applied.index);
        }
        break;
      }
    }
  }

  const changes: StateChange[] = [...touched].map((key) => ({ key, value: encodeView(overlay.get(key)) }));
  return [...changes, ...extra];
}
