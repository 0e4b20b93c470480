// Keys of the replica's own entries in the store's derived-state space. The
// replica reads them at open and the backup restores them, so both name them here.

/** Prefix of the equivocation proofs, one per quarantined author. */
export const proofPrefix = 'proof/';
export const proofKey = (author: string): string => `${proofPrefix}${author}`;
/** Present while views are being rebuilt: a rebuild cut short by a crash is resumed at open. */
export const viewsRebuildKey = 'meta/views-rebuild';
/** Prefix of every materialised view row (federation/views). */
export const viewPrefix = 'view/';
