import { decodeGovRecord, govPrefix } from '../governance/records.js';
import type { GovRecord } from '../governance/state.js';
import { LimitError } from '../errors.js';
import { governanceRecordsMax, rangeEntriesMax } from '../limits.js';
import { decodeEntry, type HashedEntry } from '../log/entry.js';
import { viewPrefix, viewsRebuildKey } from '../store/state-keys.js';
import type { StateChange, Store } from '../store/store.js';
import { planViews, prepareViewEntries } from '../views/apply.js';
import type { ViewPolicy } from '../views/policy.js';

// The store side of the views: what the driver runs against the store for
// the core. Views are derived state: planned against the rows already
// stored, committed in the same batch as the entries they come from.

/** View changes for one author's verified entries (`validated`: see prepareViewEntries), and whether they touch governance. */
export async function planCommit(store: Store, policy: ViewPolicy, author: string, hashed: readonly HashedEntry[], validated = false): Promise<{ changes: StateChange[]; governance: boolean }> {
  const { entries, rejected } = prepareViewEntries(author, hashed, validated);
  const changes = await planViews(entries, (keys) => store.getStates(keys), policy);
  return { changes: [...changes, ...rejected], governance: changes.some((c) => c.key.startsWith(govPrefix)) };
}

/** Every stored governance record (bounded: governanceRecordsMax). */
export async function storedGovernance(store: Store): Promise<GovRecord[]> {
  const page = await store.stateRange(govPrefix, governanceRecordsMax + 1);
  if (page.length > governanceRecordsMax) throw new LimitError(`more than governanceRecordsMax (${governanceRecordsMax}) governance records`);
  return page.map(([key, bytes]) => decodeGovRecord(key, bytes));
}

/**
 * Drops every view and re-applies the stored logs of `authors` (those in good
 * standing) up to their tips, all judged by `policy`, the one the full set of
 * governance records gives (so it is not recomputed while the governance rows
 * are half rebuilt). The marker is set first and cleared last, so a rebuild
 * cut short by a crash is resumed at open.
 */
export async function rebuildViews(store: Store, authors: ReadonlyMap<string, number>, policy: ViewPolicy): Promise<void> {
  await store.commit({ entries: [], heads: [], state: [{ key: viewsRebuildKey, value: new Uint8Array(0) }] });
  for (;;) {
    const page = await store.stateRange(viewPrefix, 10_000);
    if (page.length === 0) break;
    await store.commit({ entries: [], heads: [], state: page.map(([key]) => ({ key, value: undefined })) });
  }
  for (const [author, tipSeq] of authors) {
    for (let from = 1; from <= tipSeq; from += rangeEntriesMax) {
      const entries = await store.entries(author, from, tipSeq, rangeEntriesMax);
      const { changes } = await planCommit(store, policy, author, entries.map((e) => decodeEntry(e.bytes)));
      await store.commit({ entries: [], heads: [], state: changes });
    }
  }
  await store.commit({ entries: [], heads: [], state: [{ key: viewsRebuildKey, value: undefined }] });
}
