// The bounds of the protocol core, each with its unit and why: what federation/
// and the simulator use. The node process's own bounds are in node/limits.ts.
// docs/LIMITS.md lists both (scripts/limits-doc.ts; a docs test keeps it in step).

// ---- Records and logs ----

/** A single encoded log entry (record + envelope). Certificates and CRLs are the largest records. */
export const entryBytesMax = 64 * 1024;

/** Entries one author may put under one signed head; keeps a head's verification cost bounded per entry. */
export const batchEntriesMax = 1000;

/** Records written together, all or none (an import): one store batch of consecutive heads, held in memory until it is durable (a province's register at ~1.2 KiB a row: ~120 MiB). */
export const atomicWriteEntriesMax = 100_000;

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

// ---- Replication and gossip validation ----

/** A batch rides along with its head announcement up to this size; larger ones are pulled. Gossip messages stay small. */
export const announceBytesMax = 64 * 1024;

/** Peers tried, one after another, to pull one author's missing entries before waiting for the next anti-entropy round. */
export const pullPeersMax = 4;

/** PullEntries streams served to one member at once; the client queues beyond this, so only a misbehaving member is refused. */
export const pullsInFlightPerPeerMax = 4;

/** A unary peer call (ExchangeHeads): anti-entropy runs about every second, and an unreachable peer is skipped next round rather than waited for. */
export const peerCallTimeoutMs = 5_000;

/** A pull stream may stay silent this long between messages (not counting time the receiver spends storing) before it is abandoned for another peer. */
export const pullIdleTimeoutMs = 10_000;

/** Verified head signatures remembered (FIFO), so a head heard again by another path is not re-verified. */
export const verifiedHeadsMax = 16_384;

/** Verified CA signatures (over certificates and CRLs) remembered (FIFO, ~150 B each): above atomicWriteEntriesMax, so what was verified when an import is planned is not verified again by the views that apply it. */
export const caSignaturesRememberedMax = 131_072;

/** SM2 public keys kept precomputed (~71 KB each, ~6 ms to build): above the few hundred members of the largest alliance, or every verification would rebuild a table. */
export const precomputedKeysMax = 1024;

/** Certificates in one chain from leaf to trusted root: CA hierarchies in use are 2-4 deep. */
export const chainCertificatesMax = 8;

/** Head and proof signatures (SM2, ~1.4 ms each) one member's gossip may cost per second, burst twice this: a busier author's further heads are left to anti-entropy, which pulls them with one signature per chunk. */
export const gossipVerificationsPerPeerPerSecondMax = 20;

/** A gossiped head signed longer ago than this is a replay (an author publishes each head once, as it signs it): clock skew between cities plus transit, as credentialAgeMsMax. */
export const gossipHeadAgeMsMax = 60_000;

// ---- Queries ----

/** Sanctions of one subject a check reads; a subject past this many is a data problem, answered with an error rather than a partial list. */
export const subjectSanctionsMax = 10_000;

// ---- Governance ----

/** Members of one alliance (founders included): a few dozen cities today; head vectors, credentials and views are sized for hundreds. */
export const allianceMembersMax = 512;

/** An alliance's name in the genesis. */
export const allianceNameCharsMax = 200;

/** A proposal still counts approvals this many epochs after the one it names; older ones are stale and must be proposed again against the current members. */
export const proposalEpochLagMax = 8;

/** Governance records (proposals, approvals, opt-outs) a node replays to compute the alliance's state: years of weekly changes. */
export const governanceRecordsMax = 100_000;

// ---- Certificates, evidence, remote evaluation ----

/** One imported CRL (DER); the rest of an entry holds its issuer chain (chainCertificatesMax certificates of ~1 KiB). */
export const crlBytesMax = entryBytesMax - 16 * 1024;

/** Tries to read the same heads before and after a check, so an evidence bundle names exactly the state it was computed from; a node ingesting faster than this answers "retry". */
export const evidenceAttemptsMax = 5;

/** Experts one draw record lists (candidates and exclusions over all requirements): ~30 bytes each keeps the record well inside entryBytesMax. */
export const drawListedExpertsMax = 1000;

/** Entries read to compute or audit one draw (every member's log up to the draw's basis): a few seconds of reading; past it a draw is refused rather than left to stall the node. */
export const drawBasisEntriesMax = 2_000_000;

/** Seats of one panel (sum of requirement counts): panels have 5 to about 15 members by law; room for multi-lot evaluations. */
export const panelSeatsMax = 50;

/** Bidders of one evaluation session, each scored on every sheet: large goods tenders rarely pass a hundred. */
export const evaluationBiddersMax = 200;

/** Revocations of one certificate a lookup reads, earliest first: the first one decides; the rest are shown. One per member and revocation time, so rarely more than a few. */
export const certificateRevocationsReadMax = 64;

// ---- Wire bounds every peer transport honours (the compliance suite checks them) ----

/** One gRPC message between peers (gRPC's default receive bound). A pull chunk can reach rangeEntriesMax x entryBytesMax (125 MiB), so servers split chunks across messages and receivers reassemble them. */
export const grpcMessageBytesMax = 4 * 1024 * 1024;

/** One gossip message: a head (< 1 KiB) with a batch riding along up to announceBytesMax, or a proof; room for framing. */
export const gossipMessageBytesMax = announceBytesMax + 16 * 1024;

// ---- Credit (federation/credit/) ----

/** Credit records read for one subject's index: a bound on one answer, far above any real subject's file. */
export const subjectCreditRecordsMax = 10_000;

/** One record's points in a credit method, in hundredths: 1000 index points. */
export const creditPointsHundredthsMax = 100_000;

/** Index values, caps and thresholds of a credit method, in hundredths: 100,000 index points. */
export const creditIndexHundredthsMax = 10_000_000;

/** Decay of a credit indicator: 100 years, longer than any record period. */
export const creditDecayDaysMax = 36_500;

/** Weight of a credit indicator: ten times its capped sum. */
export const creditWeightPermilleMax = 10_000;
