// Every bound in Tongxing, in one place, each with its unit and why.
// docs/LIMITS.md lists them; keep the two in step.

/** A single encoded log entry (record + envelope). Certificates and CRLs are the largest records. */
export const entryBytesMax = 64 * 1024;

/** Entries one author may put under one signed head; keeps a head's verification cost bounded per entry. */
export const batchEntriesMax = 1000;

/** Free-text record fields (names, grounds, explanations). */
export const textCharsMax = 2000;

/** Repeated record fields (scope sectors, specialties, windows, endpoints, roles). */
export const listItemsMax = 64;

/** Entries verified against one head in one step (a pull chunk ends on a stored head at most this far apart). */
export const rangeEntriesMax = 2 * batchEntriesMax;

/** One X.509 certificate DER (typically ~1 KiB for SM2); room for extensions, well inside entryBytesMax. */
export const certificateBytesMax = 16 * 1024;

/** Record identifiers used as view keys (sanction ids, peer ids); short keys keep indexes small. */
export const identifierCharsMax = 128;

/** A batch rides along with its head announcement up to this size; larger ones are pulled. Gossip messages stay small. */
export const announceBytesMax = 64 * 1024;

/** Peers tried, one after another, to pull one author's missing entries before waiting for the next anti-entropy round. */
export const pullPeersMax = 4;

/** One client API call, from the CLI or a trading platform: answers are local and a write waits for one durable commit, so longer means the node is unwell. */
export const apiCallTimeoutMs = 10_000;

/** A client API request carries one record (at most entryBytesMax) plus its envelope. */
export const apiRequestBytesMax = 2 * entryBytesMax;

/** A client API answer: a sanctions check of a subject with thousands of sanctions still fits. */
export const apiResponseBytesMax = 16 * 1024 * 1024;

/** Time in-flight client API calls get to finish when the API server stops, before they are cancelled. */
export const apiShutdownGraceMs = 5_000;

/** A peer call's credential is accepted this long either side of its issue time: clock skew between city data centers, plus transit. */
export const credentialAgeMsMax = 60_000;

/** Nonces remembered per caller (each for up to 2 x credentialAgeMsMax): ~130 calls/s per member sustained; a member that exceeds it only locks itself out. */
export const credentialNoncesPerCallerMax = 16_384;

/** One gRPC message between peers (gRPC's default receive bound). A pull chunk can reach rangeEntriesMax x entryBytesMax (125 MiB), so servers split chunks across messages and receivers reassemble them. */
export const grpcMessageBytesMax = 4 * 1024 * 1024;

/** PullEntries streams served to one member at once; the client queues beyond this, so only a misbehaving member is refused. */
export const pullsInFlightPerPeerMax = 4;

/** A unary peer call (ExchangeHeads): anti-entropy runs about every second, and an unreachable peer is skipped next round rather than waited for. */
export const peerCallTimeoutMs = 5_000;

/** A pull stream may stay silent this long between messages (not counting time the receiver spends storing) before it is abandoned for another peer. */
export const pullIdleTimeoutMs = 10_000;

/** On stop, in-flight peer calls get this long to finish before they are cancelled and the port is released. */
export const peerServerStopGraceMs = 2_000;

/** HTTP/2 flow-control window of a peer channel: a pull stream runs this far ahead of its receiver, so the next chunk arrives while one is verified (gRPC's 64 KiB default stalls the stream between chunks). */
export const pullWindowBytes = grpcMessageBytesMax;

/** Verified head signatures remembered (FIFO), so a head heard again by another path is not re-verified. */
export const verifiedHeadsMax = 16_384;

/** Longest wait before a peer channel redials after failures: a restarted city node rejoins anti-entropy within seconds (gRPC's default backoff grows to 120 s). */
export const peerReconnectBackoffMsMax = 10_000;

/** SM2 public keys kept precomputed (~71 KB each, ~6 ms to build): above the few hundred members of the largest alliance, or every verification would rebuild a table. */
export const precomputedKeysMax = 1024;

/** Certificates in one chain from leaf to trusted root: CA hierarchies in use are 2-4 deep. */
export const chainCertificatesMax = 8;

/** Finished spans kept in memory when no trace exporter is configured (for tests and debugging). */
export const spansKeptMax = 256;

/** One gossip message: a head (< 1 KiB) with a batch riding along up to announceBytesMax, or a proof; room for framing. */
export const gossipMessageBytesMax = announceBytesMax + 16 * 1024;

/** Sanctions of one subject a check reads; a subject past this many is a data problem, answered with an error rather than a partial list. */
export const subjectSanctionsMax = 10_000;
