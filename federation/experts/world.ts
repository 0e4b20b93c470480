import { ListType, Restriction, SanctionIssue, type CreditPolicy, type Record } from '../../gen/tongxing/records/v1/records.js';
import { creditCases, headerOf, isCreditKind, type CreditFact } from '../credit/facts.js';
import { defaultCreditPolicy } from '../credit/method.js';
import { applyExpertLease, type LeaseView } from '../views/evaluation.js';
import { applyExpertAvailability, applyExpertProfile, resolveExpert, type Expert, type ExpertView } from '../views/expert.js';
import type { Provenance } from '../views/provenance.js';
import { isActive, type Sanction } from '../views/sanction.js';
import type { LeaseGrant } from './lease.js';

// The expert state a draw is computed from: every expert with its home node's
// profile and availability, the sanctions on it from every member, and the
// leases its home node granted. Folded from a set of records by the same rules
// as the views, so the host drawing and any node auditing, given the same
// records (a basis: each member's log up to a seq), get the same world.

export interface ExpertState {
  readonly expert: Expert;
  readonly sanctions: readonly Sanction[];
  /** Granted by the expert's home node. */
  readonly leases: readonly LeaseGrant[];
  /** Credit records about the expert from every member, with their lifts. */
  readonly credit: readonly CreditFact[];
}

export interface ExpertWorld {
  /** By expert ref. */
  readonly experts: ReadonlyMap<string, ExpertState>;
  /** The credit policy whose expert threshold pauses experts from the draw (federation/credit/). */
  readonly creditPolicy: CreditPolicy;
}

/** A record with its place in its author's log; per author, offered in ascending seq. */
export interface WorldEntry {
  readonly at: Provenance;
  readonly record: Record;
}

/** Record kinds the world is folded from. */
export const worldKinds: ReadonlySet<string> = new Set(['expertProfile', 'expertAvailability', 'sanctionIssue', 'sanctionLift', 'expertLease', 'creditLift', ...creditCases]);

/**
 * Incremental fold. Entries of one author must come in ascending seq (a lift
 * after its issue, a grant after the grants it is checked against); authors
 * may interleave in any way.
 */
export class WorldBuilder {
  readonly #experts = new Map<string, ExpertView>();
  /** issuer -> sanction id -> sanction */
  readonly #sanctions = new Map<string, Map<string, { issue: SanctionIssue; issued: Provenance; lift?: Sanction['lift'] }>>();
  /** `${author}/${ref}` -> the author's lease view of the expert */
  readonly #leases = new Map<string, LeaseView>();
  /** `${author}/${record id}` -> a credit record about an expert, by the views' rules (an id once, a lift once, by its author) */
  readonly #credit = new Map<string, { ref: string; fact: CreditFact }>();

  add({ at, record }: WorldEntry): void {
    const kind = record.kind;
    switch (kind?.$case) {
      case 'expertProfile': {
        const ref = kind.value.expertRef;
        this.#experts.set(ref, applyExpertProfile(this.#experts.get(ref), at, kind.value));
        return;
      }
      case 'expertAvailability': {
        const ref = kind.value.expertRef;
        this.#experts.set(ref, applyExpertAvailability(this.#experts.get(ref), at, kind.value));
        return;
      }
      case 'sanctionIssue': {
        let own = this.#sanctions.get(at.author);
        if (!own) this.#sanctions.set(at.author, (own = new Map()));
        if (!own.has(kind.value.sanctionId)) own.set(kind.value.sanctionId, { issue: kind.value, issued: at });
        return;
      }
      case 'sanctionLift': {
        const sanction = this.#sanctions.get(at.author)?.get(kind.value.sanctionId);
        if (sanction && !sanction.lift) sanction.lift = { lift: kind.value, lifted: at };
        return;
      }
      case 'expertLease': {
        const key = `${at.author}/${kind.value.expertRef}`;
        const applied = applyExpertLease(this.#leases.get(key), at, kind.value);
        if (applied && 'view' in applied) this.#leases.set(key, applied.view);
        return;
      }
      case 'creditLift': {
        const held = this.#credit.get(`${at.author}/${kind.value.recordId}`);
        if (held && !held.fact.lift) held.fact = { ...held.fact, lift: { effectiveAtMs: Number(kind.value.effectiveAtMs), at, reason: kind.value.reason } };
        return;
      }
      default:
        if (isCreditKind(kind)) {
          const header = headerOf(kind);
          const id = header.subject?.id;
          const key = `${at.author}/${header.recordId}`;
          if (id?.$case === 'expertRef' && !this.#credit.has(key)) this.#credit.set(key, { ref: id.value, fact: { at, record: kind } });
        }
        return;
    }
  }

  /** The world; `creditPolicy` is the one in force for the draw (default: the genesis default). */
  build(creditPolicy: CreditPolicy = defaultCreditPolicy): ExpertWorld {
    const sanctionsByRef = new Map<string, Sanction[]>();
    for (const own of this.#sanctions.values()) {
      for (const sanction of own.values()) {
        const id = sanction.issue.subject?.id;
        if (id?.$case !== 'expertRef') continue;
        const list = sanctionsByRef.get(id.value) ?? [];
        list.push({ issue: sanction.issue, issued: sanction.issued, lift: sanction.lift });
        sanctionsByRef.set(id.value, list);
      }
    }
    const creditByRef = new Map<string, CreditFact[]>();
    for (const { ref, fact } of this.#credit.values()) creditByRef.set(ref, [...(creditByRef.get(ref) ?? []), fact]);
    const experts = new Map<string, ExpertState>();
    for (const [ref, view] of this.#experts) {
      const expert = resolveExpert(view);
      if (!expert) continue;
      experts.set(ref, {
        expert,
        sanctions: sanctionsByRef.get(ref) ?? [],
        leases: this.#leases.get(`${expert.home.author}/${ref}`)?.grants ?? [],
        credit: creditByRef.get(ref) ?? [],
      });
    }
    return { experts, creditPolicy };
  }
}

export function buildWorld(entries: Iterable<WorldEntry>, creditPolicy?: CreditPolicy): ExpertWorld {
  const builder = new WorldBuilder();
  for (const entry of entries) builder.add(entry);
  return builder.build(creditPolicy);
}

/**
 * Sanctions that keep an expert off a panel starting at `atMs`: active then,
 * and restricting (a watch-list entry or an alert-only restriction does not).
 */
export function restrictingSanctions(state: ExpertState, atMs: number): Sanction[] {
  return state.sanctions.filter(
    (s) => isActive(s, atMs) && s.issue.restriction !== Restriction.RESTRICTION_ALERT_ONLY && s.issue.listType !== ListType.LIST_TYPE_WATCH,
  );
}

/** Node id (hex) of the member that leases `ref`, if the world knows the expert. */
export function homeNodeOf(world: ExpertWorld, ref: string): string | undefined {
  return world.experts.get(ref)?.expert.home.author;
}
