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

/** One HTTP/JSON client API request body: base64 bytes and field names make JSON up to ~4x the binary request, which is still held to apiRequestBytesMax. */
export const httpRequestBytesMax = 4 * apiRequestBytesMax;

/** Time to receive one whole HTTP/JSON request: a platform on the internal network sends httpRequestBytesMax in well under a second, and a stalled sender holds a socket. */
export const httpRequestTimeoutMs = 30_000;

/** JSON objects and arrays nested in one HTTP/JSON request, the body counting as one: the deepest request in proto/ nests 6, and the transcoder recurses once per level, so deeper is refused (naming the field) long before the stack could overflow. */
export const jsonNestingDepthMax = 32;

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

/** Invalid gossip messages from one peer that are validated: at this many (recent ones; they fade 1 % per second, as its score) its score is below graylistThreshold and what it sends is refused unread. */
export const gossipInvalidMessagesMax = 3;

/** Head and proof signatures (SM2, ~1.4 ms each) one member's gossip may cost per second, burst twice this: a busier author's further heads are left to anti-entropy, which pulls them with one signature per chunk. */
export const gossipVerificationsPerPeerPerSecondMax = 20;

/** A gossiped head signed longer ago than this is a replay (an author publishes each head once, as it signs it): clock skew between cities plus transit, as credentialAgeMsMax. */
export const gossipHeadAgeMsMax = 60_000;

/** Sanctions of one subject a check reads; a subject past this many is a data problem, answered with an error rather than a partial list. */
export const subjectSanctionsMax = 10_000;

// ---- Operations ----

/** One OTLP push to a collector (metrics or a batch of spans); a slower collector loses that push rather than holding the node's memory. */
export const otlpExportTimeoutMs = 10_000;

/** Spans waiting to be pushed over OTLP; while the collector is unreachable newer spans are dropped rather than growing memory. */
export const otlpSpansQueuedMax = 2048;

/** On stop, the last metrics and spans get this long to reach the collector: an unreachable one does not hold up the node's stop. */
export const otlpFinalPushMsMax = 2_000;

/** How often members' head ages are sampled to count freshness-budget breaches; a breach shorter than this can go uncounted. */
export const freshnessCheckIntervalMs = 1000;

/** The ingest rate `node status` shows is entries per second over this window (one counter per second, so fixed memory). */
export const ingestRateWindowMs = 60_000;

/** `node status` shows a member disconnected after no contact for this long at least, however often anti-entropy runs. */
export const linkIdleMsMin = 30_000;

/** ...and for this many expected gaps between contacts (anti-entropy calls one random member per round): a healthy link then looks down with chance e^-6, about 0.25 %. */
export const linkIdleExpectedGaps = 6;

/** One message of a backup stream or file: a store chunk's entries are split to fit, as between peers (gRPC's default receive bound). */
export const backupMessageBytesMax = 4 * 1024 * 1024;

/** A backup stream may stay silent this long before the CLI gives up: the node reads its store, so silence means it is stuck or gone. */
export const backupIdleTimeoutMs = 30_000;

/** `node start` shows a catch-up progress bar only when this many entries behind: ordinary replication is always a few entries behind. */
export const catchUpProgressEntriesMin = 1000;

/** How often `node start` checks how far behind its peers it is, for the catch-up progress bar. */
export const catchUpCheckIntervalMs = 500;

// ---- Governance ----

/** Members of one alliance (founders included): a few dozen cities today; head vectors, credentials and views are sized for hundreds. */
export const allianceMembersMax = 512;

/** An alliance's name in the genesis. */
export const allianceNameCharsMax = 200;

/** A proposal still counts approvals this many epochs after the one it names; older ones are stale and must be proposed again against the current members. */
export const proposalEpochLagMax = 8;

/** Governance records (proposals, approvals, opt-outs) a node replays to compute the alliance's state: years of weekly changes. */
export const governanceRecordsMax = 100_000;

// ---- Certificates, logins, evidence, import/export ----

/** A login challenge is answered within this long: a person finds the USB key and types its PIN in seconds; a captured challenge soon becomes useless. */
export const loginChallengeTtlMs = 120_000;

/** Answered login challenges remembered until they expire, to refuse replays (issued ones cost nothing: they carry their expiry and an HMAC); ~110 bytes each, ~2,000 SM2-checked answers/s for loginChallengeTtlMs. Past it the earliest answered are forgotten and every challenge expiring no later than them is refused as expired. */
export const loginChallengesAnsweredMax = 250_000;

/** One imported CRL (DER); the rest of an entry holds its issuer chain (chainCertificatesMax certificates of ~1 KiB). */
export const crlBytesMax = entryBytesMax - 16 * 1024;

/** Watch-list alerts one ListAlerts answer carries, newest first; older ones stay in the log and the view. */
export const alertsListMax = 1_000;

/** Rows staged in one import (kept in memory until committed): a province's entity register; larger files are split. */
export const importRowsMax = 100_000;

/** Bytes one staged import holds: its valid rows as encoded plus ~100 bytes of bookkeeping per row (100,000 rows of ~1.2 KiB); invalid rows are not kept. */
export const importBytesMax = 128 * 1024 * 1024;

/** Bytes all staged imports on one node hold together (two full imports); past it a StageImport is refused until one is committed, aborted or dropped. */
export const importBytesTotalMax = 2 * importBytesMax;

/** Imports staged at once on one node; memory is bounded by importBytesTotalMax, this bounds the bookkeeping and lets several operators upload at once. */
export const importSessionsMax = 16;

/** Imports one client may have staged or committing at once: one platform's uploads cannot take every slot from the center's operators. */
export const importSessionsPerClientMax = 4;

/** A staged import with no StageImport or CommitImport for this long is dropped with its memory: the CLI sends its chunks without pause, so an idle import is abandoned. */
export const importIdleTimeoutMs = 5 * 60_000;

/** A staged import is dropped this long after it started however busy it is kept: uploading importBytesMax takes minutes at most, so restaging cannot keep one alive for ever. */
export const importLifetimeMsMax = 60 * 60_000;

/** Row errors one import keeps and reports (row, field, reason), first rows first; the report also counts all of them: a file with more is fixed in passes. */
export const importErrorsReportedMax = 1000;

/** Outcomes of finished imports kept (committed, refused, failed, aborted, expired) for GetImport and a repeated CommitImport; each holds at most importErrorsReportedMax errors. */
export const importOutcomesKeptMax = 16;

/** How long a finished import's outcome stays answerable: longer than the CLI waits for a commit (importCommitWaitMsMax). */
export const importOutcomeKeptMs = 15 * 60_000;

/** The CLI waits this long for a commit's outcome after its call's deadline passed (the node goes on committing), asking every importStatusPollMs; then it says the outcome is unknown. */
export const importCommitWaitMsMax = 10 * 60_000;

/** How often the CLI asks for a commit's progress and outcome once its commit call's deadline has passed. */
export const importStatusPollMs = 1000;

/** Rows in one export page: ~2 KiB per sanction row keeps a page far inside apiResponseBytesMax. */
export const exportPageRowsMax = 500;

/** Tries to read the same heads before and after a check, so an evidence bundle names exactly the state it was computed from; a node ingesting faster than this answers "retry". */
export const evidenceAttemptsMax = 5;

/** Validity of a node's self-signed TLS certificate: pinned through the membership, so it is renewed with an update-member proposal, not by a CA. */
export const tlsCertificateValidityDays = 3650;

/** Peer calls one member may make per second (burst twice this): anti-entropy and pulls need a few per second; a member far above is misbehaving. */
export const peerCallsPerSecondMax = 200;

/** Client API calls one registered client may make per second by default (burst the same); a grant may set its own: a trading platform's checks run at tens per second, a batch job at hundreds. */
export const clientCallsPerSecondDefault = 1000;

/** Calls per second of the administrator credential a node makes for its own CLI: bulk registrations and scripted loads run as it, on the node's machine. */
export const adminCallsPerSecondMax = 20_000;

/** Client API calls of one client in flight at once: a platform's worker pool or a bulk loader's window (writes group-commit, so hundreds in flight are normal), not a flood; beyond it calls are refused, not queued. */
export const clientCallsInFlightMax = 256;

/** Registered clients of one node: a center's dozens of trading and supervision systems and its operators, with room. */
export const accessClientsMax = 1000;

/** Client names: short identifiers that the audit trail repeats on every line. */
export const clientNameCharsMax = 64;

/** The operator a platform names for the person at its screen (x-tongxing-operator): a name or staff number. */
export const operatorCharsMax = 128;

/** One audit file before it is rotated: ~60,000 records of ~250 bytes. */
export const auditFileBytesMax = 16 * 1024 * 1024;

/** Rotated audit files kept beside the current one; older ones are deleted (back them up first: backups include them). */
export const auditFilesKept = 15;

/** Audit records one ListAudit answer carries (the oldest matching first); narrow with --since or --client for more. */
export const auditReadRecordsMax = 10_000;

/** Experts one draw record lists (candidates and exclusions over all requirements): ~30 bytes each keeps the record well inside entryBytesMax. */
export const drawListedExpertsMax = 1000;

/** Entries read to compute or audit one draw (every member's log up to the draw's basis): a few seconds of reading; past it a draw is refused rather than left to stall the node. */
export const drawBasisEntriesMax = 2_000_000;

/** Seats of one panel (sum of requirement counts): panels have 5 to about 15 members by law; room for multi-lot evaluations. */
export const panelSeatsMax = 50;

/** Bidders of one evaluation session, each scored on every sheet: large goods tenders rarely pass a hundred. */
export const evaluationBiddersMax = 200;

/** A lease request to an expert's home node (one durable write there): an unreachable home node makes the host move on to the next candidate. */
export const leaseCallTimeoutMs = 5_000;

/** Revocations of one certificate a lookup reads, earliest first: the first one decides; the rest are shown. One per member and revocation time, so rarely more than a few. */
export const certificateRevocationsReadMax = 64;
