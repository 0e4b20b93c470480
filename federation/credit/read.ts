import { LimitError } from '../errors.js';
import { subjectCreditRecordsMax, subjectSanctionsMax } from '../limits.js';
import type { GovernanceState } from '../governance/state.js';
import type { Store } from '../store/store.js';
import { creditFactOf, creditKeyOfIndex, creditSubjectPrefix, type CreditView } from '../views/credit.js';
import { decodeView } from '../views/provenance.js';
import { sanctionFromView, sanctionKeyOfIndex, subjectIndexPrefix, type SanctionView } from '../views/sanction.js';
import { sanctionFactOf, type CreditFact, type SanctionFact } from './facts.js';

// A subject's facts for the index, read from this node's views: two range
// reads of the subject indexes (credit records, sanctions) and one getMany
// each, never a scan. Records of a quarantined author (an equivocation proof
// names it) count for nothing, as in every other answer.

export interface SubjectFacts {
  readonly credit: CreditFact[];
  readonly sanctions: SanctionFact[];
}

/** What the facts are read from: a replica, or a store of views alone in tests and benchmarks. */
export interface CreditSource {
  readonly store: Pick<Store, 'stateRange' | 'getStates'>;
  isQuarantined(author: string): boolean;
  readonly governance?: Pick<GovernanceState, 'current'>;
}

/** The facts of `subject` (`uscc:CODE` or `expert:REF`). LimitError past the per-subject bounds rather than a partial index. */
export async function readSubjectFacts(replica: CreditSource, subject: string): Promise<SubjectFacts> {
  const store = replica.store;
  const creditIndex = await store.stateRange(creditSubjectPrefix(subject), subjectCreditRecordsMax + 1);
  if (creditIndex.length > subjectCreditRecordsMax) {
    throw new LimitError(`${subject} has more than subjectCreditRecordsMax ${subjectCreditRecordsMax} credit records: refusing a partial index`);
  }
  const creditViews = await store.getStates(creditIndex.map(([key]) => creditKeyOfIndex(subject, key)));
  const credit = creditViews
    .map((bytes) => creditFactOf(decodeView<CreditView>(bytes)!))
    .filter((fact) => !replica.isQuarantined(fact.at.author));

  const sanctionIndex = await store.stateRange(subjectIndexPrefix(subject), subjectSanctionsMax + 1);
  if (sanctionIndex.length > subjectSanctionsMax) {
    throw new LimitError(`${subject} has more than subjectSanctionsMax ${subjectSanctionsMax} sanctions: refusing a partial index`);
  }
  const sanctionKeys = sanctionIndex.map(([key]) => sanctionKeyOfIndex(subject, key));
  const quorumLifts = replica.governance?.current.quorumLifts;
  const sanctions = (await store.getStates(sanctionKeys))
    .map((bytes) => sanctionFromView(decodeView<SanctionView>(bytes)!))
    .filter((s) => !replica.isQuarantined(s.issued.author))
    .map((s) => sanctionFactOf(s, quorumLifts?.get(`${s.issued.author}/${s.issue.sanctionId}`)));
  return { credit, sanctions };
}
