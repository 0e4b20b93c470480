import { equalBytes } from '../log/entry.js';
import { LogWriter } from '../log/writer.js';
import { Membership } from '../membership.js';
import { membersWithSnapshot } from '../governance/snapshot.js';
import { computeGovernance, governancePolicy, type GovRecord, type GovernanceState } from '../governance/state.js';
import type { CoreState } from './state.js';

// The alliance's state from the governance records in the logs: a new epoch
// replaces the members and the policy (members leave as a value in the Ready).

/**
 * The hlc from which two governance states judge entries differently: the
 * start of the first epoch where they part. Entries at or below it were
 * judged by epochs both agree on, so their view decisions stand.
 */
function changedFrom(before: GovernanceState, after: GovernanceState): bigint {
  let i = 0;
  while (i < before.epochs.length && i < after.epochs.length && before.epochs[i]!.proposal === after.epochs[i]!.proposal) i++;
  const starts = [before.epochs[i]?.fromHlc, after.epochs[i]?.fromHlc].filter((h): h is bigint => h !== undefined);
  return starts.reduce((min, h) => (h < min ? h : min), starts[0] ?? 0n);
}

/**
 * Recomputes the alliance's state from every stored governance record. When
 * an epoch opened or changed, the members and the policy follow, and the
 * views are rebuilt if `rebuild` and any stored entry was judged under the
 * epochs that changed (an author suspended as of an earlier hlc): every node
 * must end with the views the full set of records gives.
 */
export function applyGovernance(core: CoreState, records: readonly GovRecord[], rebuild: boolean): void {
  const genesis = core.init.genesis;
  if (!genesis) return;
  const state = computeGovernance(genesis, records);
  const before = core.governance;
  core.governance = state;
  if (before && before.epochs.length === state.epochs.length && before.current.proposal === state.current.proposal) return;
  core.policy = governancePolicy(state);
  const members = membersWithSnapshot(state, core.init.snapshot);
  core.members = new Membership(members, { checkIds: false });
  core.outbox.members = members;
  switchKeyIfRotated(core);
  core.outbox.events.push({ type: 'epoch', epoch: state.current.number });
  if (rebuild && before && storedAfter(core, changedFrom(before, state))) core.outbox.rebuildViews = true;
}

/** Whether any stored entry has an hlc above `hlc` (each log's newest entry has its highest hlc). */
function storedAfter(core: CoreState, hlc: bigint): boolean {
  for (const signed of core.served.values()) if (signed.head!.hlc > hlc) return true;
  return false;
}

/** Once governance has rotated this node's key to the prepared next key, sign with it. */
function switchKeyIfRotated(core: CoreState): void {
  const next = core.init.nextKeyPair;
  const self = core.members.get(core.nodeId);
  if (!next || !self || !equalBytes(self.publicKey, next.publicKey) || core.writer.pendingCount > 0) return;
  if (equalBytes(core.writerKey.publicKey, next.publicKey)) return;
  core.writerKey = next;
  core.writer = new LogWriter(core.init.allianceId, next, core.writer.tip, core.nodeId);
}
