import type { Record } from '../../gen/tongxing/records/v1/records.js';

// What the alliance's governance says about one entry, as the views need it.
// Answers depend on the entry's hlc, never on arrival time, so every node
// decides the same way (see governance/: a change in governance rebuilds views).

export type RecordKind = NonNullable<Record['kind']>['$case'];

export interface ViewPolicy {
  /** Why `author` may not write a record of this kind at `hlc` (role, suspension), or undefined when it may. */
  refusal(author: string, hlc: bigint, kind: RecordKind): string | undefined;
  /** The CA root certificates (DER) the alliance trusted at `hlc`. */
  trustedRoots(hlc: bigint): readonly Uint8Array[];
}

/** Everyone may write everything, and no CA is trusted: for tests of views alone. */
export const openPolicy: ViewPolicy = { refusal: () => undefined, trustedRoots: () => [] };
