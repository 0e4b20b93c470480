import { LimitError } from './errors.js';
import { subjectSanctionsMax } from './limits.js';
import type { Replica } from './replica.js';
import { entityKey, resolveEntity, type Entity, type EntityView } from './views/entity.js';
import { decodeView } from './views/provenance.js';
import { isActive, sanctionFromView, sanctionKey, subjectIndexPrefix, type Sanction, type SanctionView } from './views/sanction.js';

// Answers are local: read from this node's own store, never from a peer, and
// every answer carries how fresh the data behind it is.

export async function getEntity(replica: Replica, uscc: string): Promise<Entity | undefined> {
  const view = decodeView<EntityView>(await replica.store.getState(entityKey(uscc)));
  return resolveEntity(view, (author) => replica.isQuarantined(author));
}

export interface MemberFreshness {
  readonly nodeId: string;
  readonly storedSeq: number;
  /** Since the newest verified head of its log was signed; undefined when never heard. */
  readonly ageMs: number | undefined;
  readonly stale: boolean;
}

/** For each member, how old our picture of its log is (the age of the newest head heard). */
export function freshness(replica: Replica, nowMs: number, budgetMs: number): MemberFreshness[] {
  return replica.logs().map((log) => {
    const ageMs = log.nodeId === replica.nodeId ? 0 : log.signedAtMs === undefined ? undefined : Math.max(0, nowMs - log.signedAtMs);
    return { nodeId: log.nodeId, storedSeq: log.storedSeq, ageMs, stale: ageMs === undefined || ageMs > budgetMs };
  });
}

export type Verdict = 'clear' | 'restricted' | 'unknown-stale';

export interface SanctionCheck {
  /** restricted: an active sanction; unknown-stale: none here, but some member's data is too old to say clear. */
  readonly verdict: Verdict;
  readonly sanctions: Array<Sanction & { readonly quarantined: boolean }>;
  readonly freshness: MemberFreshness[];
  readonly atMs: number;
}

/**
 * Every sanction of `subject` (e.g. `uscc:...`) active at `atMs`, from every
 * member. Fails closed: with nothing active but a member's data older than
 * the budget, the verdict is unknown-stale, never a silent "clear".
 */
export async function checkSanctions(replica: Replica, subject: string, atMs: number, nowMs: number, budgetMs: number): Promise<SanctionCheck> {
  const index = await replica.store.stateRange(subjectIndexPrefix(subject), subjectSanctionsMax + 1);
  if (index.length > subjectSanctionsMax) {
    throw new LimitError(`${subject} has more than subjectSanctionsMax ${subjectSanctionsMax} sanctions: refusing a partial answer`);
  }
  const keys = index.map(([key]) => {
    const [issuer, id] = key.slice(subjectIndexPrefix(subject).length).split('/');
    return sanctionKey(issuer!, decodeURIComponent(id!));
  });
  const views = await replica.store.getStates(keys);
  const sanctions = views
    .map((bytes) => sanctionFromView(decodeView<SanctionView>(bytes)!))
    .filter((s) => isActive(s, atMs))
    .map((s) => ({ ...s, quarantined: replica.isQuarantined(s.issued.author) }));
  const fresh = freshness(replica, nowMs, budgetMs);
  const verdict: Verdict = sanctions.length > 0 ? 'restricted' : fresh.some((f) => f.stale) ? 'unknown-stale' : 'clear';
  return { verdict, sanctions, freshness: fresh, atMs };
}
