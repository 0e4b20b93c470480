// The bounds of the node process: its client API, peer links, gossip transport,
// telemetry, backups, logins, imports and access control, each with its unit and why.
// The protocol core's bounds, which the simulator shares, are in federation/limits.ts.
// docs/LIMITS.md lists both (scripts/limits-doc.ts; a docs test keeps it in step).

import { announceBytesMax, atomicWriteEntriesMax, entryBytesMax, grpcMessageBytesMax } from '../federation/limits.js';

// ---- Client API: gRPC and HTTP/JSON ----

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

// ---- Peer links: gRPC, TLS, call credentials ----

/** A peer call's credential is accepted this long either side of its issue time: clock skew between city data centers, plus transit. */
export const credentialAgeMsMax = 60_000;

/** Nonces remembered per caller (each for up to 2 x credentialAgeMsMax): ~130 calls/s per member sustained; a member that exceeds it only locks itself out. */
export const credentialNoncesPerCallerMax = 16_384;

/** Peer calls one member may make per second (burst twice this): anti-entropy and pulls need a few per second; a member far above is misbehaving. */
export const peerCallsPerSecondMax = 200;


/** On stop, in-flight peer calls get this long to finish before they are cancelled and the port is released. */
export const peerServerStopGraceMs = 2_000;

/** HTTP/2 flow-control window of a peer channel: a pull stream runs this far ahead of its receiver, so the next chunk arrives while one is verified (gRPC's 64 KiB default stalls the stream between chunks). */
export const pullWindowBytes = grpcMessageBytesMax;

/** Longest wait before a peer channel redials after failures: a restarted city node rejoins anti-entropy within seconds (gRPC's default backoff grows to 120 s). */
export const peerReconnectBackoffMsMax = 10_000;

/** Validity of a node's self-signed TLS certificate: pinned through the membership, so it is renewed with an update-member proposal, not by a CA. */
export const tlsCertificateValidityDays = 3650;

/** A lease request to an expert's home node (one durable write there): an unreachable home node makes the host move on to the next candidate. */
export const leaseCallTimeoutMs = 5_000;

// ---- Gossip transport (libp2p) ----


/** Invalid gossip messages from one peer that are validated: at this many (recent ones; they fade 1 % per second, as its score) its score is below graylistThreshold and what it sends is refused unread. */
export const gossipInvalidMessagesMax = 3;

// ---- Telemetry and node status ----

/** Finished spans kept in memory when no trace exporter is configured (for tests and debugging). */
export const spansKeptMax = 256;

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

/** `node start` shows a catch-up progress bar only when this many entries behind: ordinary replication is always a few entries behind. */
export const catchUpProgressEntriesMin = 1000;

/** How often `node start` checks how far behind its peers it is, for the catch-up progress bar. */
export const catchUpCheckIntervalMs = 500;

/** A progress bar gives a rate and time left only once progress has been measured this long: a first second's pace is not the operation's (node/cli/progress-estimate.ts). */
export const progressRateWindowMsMin = 5000;

/** Half-life of a progress bar's smoothed rate: the pace of the last several seconds, not since start, and not one burst. */
export const progressRateHalfLifeMs = 10_000;

// ---- Backup ----

/** One message of a backup stream or file: a store chunk's entries are split to fit, as between peers (gRPC's default receive bound). */
export const backupMessageBytesMax = 4 * 1024 * 1024;

/** A backup stream may stay silent this long before the CLI gives up: the node reads its store, so silence means it is stuck or gone. */
export const backupIdleTimeoutMs = 30_000;

// ---- Logins and watch-list alerts ----

/** A login challenge is answered within this long: a person finds the USB key and types its PIN in seconds; a captured challenge soon becomes useless. */
export const loginChallengeTtlMs = 120_000;

/** Answered login challenges remembered until they expire, to refuse replays (issued ones cost nothing: they carry their expiry and an HMAC); ~110 bytes each, ~2,000 SM2-checked answers/s for loginChallengeTtlMs. Past it the earliest answered are forgotten and every challenge expiring no later than them is refused as expired. */
export const loginChallengesAnsweredMax = 250_000;

/** Watch-list alerts one ListAlerts answer carries, newest first; older ones stay in the log and the view. */
export const alertsListMax = 1_000;

// ---- Import and export ----

/** Rows staged in one import (kept in memory until committed): a province's entity register; larger files are split. One import is one atomic write. */
export const importRowsMax = atomicWriteEntriesMax;

/** Views an import commit reads per store round trip while it checks its rows against this node's state (one getMany page). */
export const importReadKeysMax = 10_000;

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

// ---- Client access and the audit trail ----

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

// ---- Credit (node/api/credit.ts) ----

/** Experts one ListExpertCredit answer covers (each is one subject's index): a city library is a few thousand. */
export const creditExpertsListMax = 10_000;

// ---- CLI ----

/** Fewest hex digits of a proposal hash `alliance approve` takes (git's rule: any unique prefix): 32 bits make a collision among an alliance's proposals unlikely, and an ambiguous prefix is refused, never guessed. */
export const proposalHashPrefixCharsMin = 8;

// ---- Operator console ----

/** Rows one console table page asks the node for (ListEntities): a screenful with room; tables page on the server, never by fetching everything. */
export const consolePageRowsMax = 100;

/** Entities one ListEntities page reads when it filters by name: ~10 ms of LevelDB reads, so a name search over 1,000,000 entities answers in pages instead of holding the API for seconds; the next page token goes on from there. */
export const consoleEntityScanMax = 10_000;

/** The console's built files, held in memory (compressed too) from the node's start: Vite's output is ~2-3 MB; a much larger folder is not the console. */
export const consoleAssetsBytesMax = 16 * 1024 * 1024;
