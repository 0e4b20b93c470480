// Every bound in Tongxing, in one place, each with its unit and why.
// docs/LIMITS.md lists them; keep the two in step.

/** A single encoded log entry (record + envelope). Certificates and CRLs are the largest records. */
export const entryBytesMax = 64 * 1024;

/** Entries one author may put under one signed head; keeps a head's verification cost bounded per entry. */
export const batchEntriesMax = 1000;

/** A head is signed at least this often while entries are pending, to bound propagation delay. */
export const headIntervalMs = 50;

/** An HLC may run ahead of the receiver's wall clock by at most this much before it is rejected. */
export const clockSkewMsMax = 60_000;

/** Free-text record fields (names, grounds, explanations). */
export const textCharsMax = 2000;

/** Repeated record fields (scope sectors, specialties, windows, endpoints, roles). */
export const listItemsMax = 64;
