import { assert } from './errors.js';
import type { Store } from './store/store.js';

// Paging over a prefix of derived state with only Store.stateRange(prefix,
// limit), which always starts at the prefix: the keys after `after` are the
// keys that extend `after`, then, from its last character back to the
// prefix, the keys under each sibling prefix that sorts after it. Each page
// costs at most (key length x key alphabet) small reads, most of them empty.

/** Key characters under the prefixes scanned: printable ASCII, which is all keyPart (encodeURIComponent) and hex produce. */
const alphabet = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i));

/**
 * Up to `limit` state entries under `prefix` whose keys sort after `after`
 * (all of them when `after` is undefined), in key order. Precondition: keys
 * under `prefix` are printable ASCII without spaces.
 */
export async function stateRangeAfter(store: Store, prefix: string, after: string | undefined, limit: number): Promise<Array<[string, Uint8Array]>> {
  if (after === undefined) return store.stateRange(prefix, limit);
  assert(after.startsWith(prefix), `stateRangeAfter: ${after} is not under ${prefix}`);
  const found = (await store.stateRange(after, limit + 1)).filter(([key]) => key !== after).slice(0, limit);
  for (let i = after.length - 1; i >= prefix.length && found.length < limit; i--) {
    const base = after.slice(0, i);
    for (const next of alphabet) {
      if (found.length >= limit) break;
      if (next <= after[i]!) continue;
      found.push(...(await store.stateRange(base + next, limit - found.length)));
    }
  }
  return found;
}
