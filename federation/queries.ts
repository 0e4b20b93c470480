import type { WatchAlert } from '../gen/tongxing/records/v1/records.js';
import { LimitError } from './errors.js';
import { freshness, type MemberFreshness } from './freshness.js';
import { certificateRevocationsReadMax, subjectSanctionsMax } from './limits.js';
import type { Replica } from './replica.js';
import { entityKey, resolveEntity, type Entity, type EntityView } from './views/entity.js';
import { alertFromView, alertPrefix, type AlertView } from './views/alert.js';
import { certificateKey, resolveCertificate, revocationPrefix, type CertificateView, type ResolvedCertificate, type RevocationView } from './views/certificate.js';
import { hlcWallMs } from './log/hlc.js';
import { decodeView, type Provenance } from './views/provenance.js';
import { optOutKey, recognise, type OptOutView, type Recognition } from './views/recognition.js';
import { isActive, sanctionFromView, sanctionKeyOfIndex, subjectIndexPrefix, type Sanction, type SanctionView } from './views/sanction.js';

// Answers are local: read from this node's own store, never from a peer, and
// every answer carries how fresh the data behind it is (freshness.ts).

export async function getEntity(replica: Replica, uscc: string): Promise<Entity | undefined> {
  const view = decodeView<EntityView>(await replica.store.getState(entityKey(uscc)));
  return resolveEntity(view, (author) => replica.isQuarantined(author));
}

export type Verdict = 'clear' | 'restricted' | 'unknown-stale';

export interface SanctionCheck {
  /** restricted: an active sanction this node recognises; unknown-stale: none here, but some member's data is not fresh (too old, or not heard since start), so it cannot say clear. */
  readonly verdict: Verdict;
  /** Every active sanction, recognised here or not, with the reason. */
  readonly sanctions: Array<Sanction & { readonly quarantined: boolean; readonly recognition: Recognition }>;
  readonly freshness: MemberFreshness[];
  readonly atMs: number;
}

/**
 * Every sanction of `subject` (e.g. `uscc:...`) active at `atMs`, from every
 * member. Fails closed: with nothing active but a member's data not fresh
 * (older than the budget, or unknown), the verdict is unknown-stale, never a
 * silent "clear".
 */
export async function checkSanctions(replica: Replica, subject: string, atMs: number, nowMs: number, budgetMs: number): Promise<SanctionCheck> {
  const index = await replica.store.stateRange(subjectIndexPrefix(subject), subjectSanctionsMax + 1);
  if (index.length > subjectSanctionsMax) {
    throw new LimitError(`${subject} has more than subjectSanctionsMax ${subjectSanctionsMax} sanctions: refusing a partial answer`);
  }
  const keys = index.map(([key]) => sanctionKeyOfIndex(subject, key));
  const views = await replica.store.getStates(keys);
  const governance = replica.governance?.current;
  /** A quorum may lift a sanction its issuer cannot or will not: from the wall time of the approval that completed it. */
  const liftedByQuorum = (s: Sanction) => {
    const hlc = governance?.quorumLifts.get(`${s.issued.author}/${s.issue.sanctionId}`);
    return hlc !== undefined && atMs >= hlcWallMs(hlc);
  };
  const active = views.map((bytes) => sanctionFromView(decodeView<SanctionView>(bytes)!)).filter((s) => isActive(s, atMs) && !liftedByQuorum(s));
  const optOuts = await replica.store.getStates(active.map((s) => optOutKey(s.issued.author, s.issue.sanctionId, replica.nodeId)));
  const sanctions = active.map((s, i) => ({
    ...s,
    quarantined: replica.isQuarantined(s.issued.author),
    recognition: recognise(s, replica.nodeId, governance?.recognition, decodeView<OptOutView>(optOuts[i])),
  }));
  const fresh = freshness(replica, nowMs, budgetMs);
  const verdict: Verdict = sanctions.some((s) => s.recognition.recognised) ? 'restricted' : fresh.some((f) => f.stale) ? 'unknown-stale' : 'clear';
  return { verdict, sanctions, freshness: fresh, atMs };
}

// ---- certificates and watch-list alerts ----

/** A certificate's recordings and revocations as this node's views hold them (quarantined authors left out). */
export async function getCertificate(replica: Replica, issuerNameHash: string, serialNumber: string): Promise<ResolvedCertificate> {
  const view = decodeView<CertificateView>(await replica.store.getState(certificateKey(issuerNameHash, serialNumber)));
  const revocations = await replica.store.stateRange(revocationPrefix(issuerNameHash, serialNumber), certificateRevocationsReadMax);
  return resolveCertificate(
    view,
    revocations.map(([, bytes]) => decodeView<RevocationView>(bytes)!),
    (author) => replica.isQuarantined(author),
  );
}

/** Watch-list alerts for `watcher` (a node id), newest first; `truncated` when more than `limit` exist. */
export async function listAlerts(replica: Replica, watcher: string, limit: number): Promise<{ alerts: Array<{ at: Provenance; alert: WatchAlert }>; truncated: boolean }> {
  const found = await replica.store.stateRange(alertPrefix(watcher), limit + 1);
  const alerts = found
    .slice(0, limit)
    .map(([, bytes]) => alertFromView(decodeView<AlertView>(bytes)!))
    .filter((a) => !replica.isQuarantined(a.at.author));
  return { alerts, truncated: found.length > limit };
}
