// The PeerTransport contract (replica.ts), written once and run against every
// implementation: gRPC over 127.0.0.1 with gossip (node/peer/transport.test.ts),
// the in-process Bus (testing/bus.test.ts) and the simulator's
// (simulations/transport.test.ts):
//   transportCompliance('bus', async (remotes) => ...a TransportUnderTest...);
// The remotes are scripted peer services: they record what they are asked and
// serve what the test says. Heads and entries are opaque bytes here (a
// transport does not verify signatures or chains). No assertion depends on
// time: the suite waits on what the remotes saw, and `settle` drives virtual
// time where there is one.

import { afterEach, describe, expect, it } from 'vitest';
import type { Announcement, ExchangeHeadsRequest, ExchangeHeadsResponse, PullEntriesRequest, PullEntriesResponse } from '../../gen/tongxing/federation/v1/peer.js';
import { SignedHead } from '../../gen/tongxing/log/v1/log.js';
import { LimitError, MembershipError, TongxingError, UnreachableError } from '../errors.js';
import { allianceMembersMax, entryBytesMax, grpcMessageBytesMax, gossipMessageBytesMax, pullsInFlightPerPeerMax, rangeEntriesMax } from '../limits.js';
import type { PeerTransport, Verdict } from '../replica.js';

/** What a transport's peer calls reach on a member: the replica's serving side. */
export interface RemotePeer {
  handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse>;
  servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse>;
  receiveAnnouncement(announcement: Announcement, from: string): Promise<Verdict>;
}

/** One transport wired to scripted remotes, as a setup function builds it. */
export interface TransportUnderTest {
  /** The transport under test, calling as `caller`. */
  readonly transport: PeerTransport;
  readonly caller: string;
  /** The members serving with setup's remotes, in the same order. */
  readonly peers: readonly string[];
  /** A member whose node is down: no call reaches it. */
  readonly unreachable: string;
  /** A node id that is not a member. */
  readonly stranger: string;
  /** Settles `work`: drives virtual time while it is pending where there is virtual time; otherwise awaits it. */
  settle<T>(work: Promise<T>): Promise<T>;
  /** Stops everything setup started. */
  close(): Promise<void>;
}

/** Builds a transport whose calls to `peers[i]` reach `remotes[i]`. */
export type TransportSetup = (remotes: readonly RemotePeer[]) => Promise<TransportUnderTest>;

type Serve = (from: string, request: PullEntriesRequest, remote: ScriptedRemote) => AsyncGenerator<PullEntriesResponse>;

/** A member's peer service that records every call and serves what the test scripted. */
export class ScriptedRemote implements RemotePeer {
  readonly exchanges: Array<{ from: string; request: ExchangeHeadsRequest }> = [];
  readonly pulls: Array<{ from: string; request: PullEntriesRequest }> = [];
  readonly announcements: Array<{ from: string; announcement: Announcement }> = [];
  /** What happened, in order: `open <n>` when pull n starts being served, `close <n>` when its stream ends (finished or cancelled). */
  readonly events: string[] = [];
  exchangeResponse: ExchangeHeadsResponse | Error = { heads: [], proofs: [] };
  serve: Serve = async function* () {};
  announcementVerdict: Verdict = 'accept';
  readonly #waiters: Array<{ ready: () => boolean; wake: () => void }> = [];

  async handleExchangeHeads(from: string, request: ExchangeHeadsRequest): Promise<ExchangeHeadsResponse> {
    this.exchanges.push({ from, request });
    this.#changed();
    if (this.exchangeResponse instanceof Error) throw this.exchangeResponse;
    return this.exchangeResponse;
  }

  async *servePull(from: string, request: PullEntriesRequest): AsyncGenerator<PullEntriesResponse> {
    const n = this.pulls.push({ from, request });
    this.events.push(`open ${n}`);
    this.#changed();
    try {
      yield* this.serve(from, request, this);
    } finally {
      this.events.push(`close ${n}`);
      this.#changed();
    }
  }

  async receiveAnnouncement(announcement: Announcement, from: string): Promise<Verdict> {
    this.announcements.push({ from, announcement });
    this.#changed();
    return this.announcementVerdict;
  }

  /** Pull streams that ended so far. */
  get pullsClosed(): number {
    return this.events.filter((e) => e.startsWith('close')).length;
  }

  /** Resolves once `ready()` holds (checked now and after every call this remote sees). */
  until(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((wake) => this.#waiters.push({ ready, wake }));
  }

  #changed(): void {
    for (const waiter of [...this.#waiters]) {
      if (!waiter.ready()) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.wake();
    }
  }
}

/** A gate that pulls wait on until the test opens it. */
class Gate {
  #open!: () => void;
  readonly opened = new Promise<void>((open) => (this.#open = open));
  open(): void {
    this.#open();
  }
}

const authorBytes = Buffer.alloc(32, 0xa7);

/** A head of the test author at `seq` (not signed: transports carry heads as bytes). */
export function headAt(seq: number, author: Buffer = authorBytes): SignedHead {
  return SignedHead.fromPartial({
    head: { allianceId: Buffer.alloc(32, 0x77), author, seq: BigInt(seq), entryHash: Buffer.alloc(32, seq & 0xff), hlc: BigInt(seq) << 16n, signedAtMs: 1_700_000_000_000n + BigInt(seq) },
    signature: Buffer.alloc(72, seq & 0xff),
  });
}

/** Entries after..upTo as distinct bytes of `bytes` each (at least 8). */
function entries(after: number, upTo: number, bytes = 16): Buffer[] {
  return Array.from({ length: upTo - after }, (_, i) => {
    const entry = Buffer.alloc(bytes, (after + i + 1) & 0xff);
    entry.writeUInt32BE(after + i + 1, 0);
    return entry;
  });
}

function chunk(after: number, upTo: number, bytes?: number): PullEntriesResponse {
  return { entries: entries(after, upTo, bytes), head: headAt(upTo) };
}

const pullRequest: PullEntriesRequest = { author: authorBytes, afterSeq: 0n, upToSeq: 0n };

async function collect(stream: AsyncIterable<PullEntriesResponse>): Promise<PullEntriesResponse[]> {
  const chunks: PullEntriesResponse[] = [];
  for await (const received of stream) chunks.push(received);
  return chunks;
}

/** Chunks as comparable plain data: entry bytes in hex and the encoded head. */
function plain(chunks: readonly PullEntriesResponse[]): Array<{ entries: string[]; head: string }> {
  return chunks.map((c) => ({ entries: c.entries.map((e) => Buffer.from(e).toString('hex')), head: c.head === undefined ? '' : Buffer.from(SignedHead.encode(c.head).finish()).toString('hex') }));
}

/** Rejection of `work` (or a failure of the test when it resolves). */
async function rejection(work: Promise<unknown>): Promise<Error> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should have rejected').toBeInstanceOf(Error);
  return error as Error;
}

/**
 * A call that failed on the way, not because of what the peer sent: the
 * replica counts TongxingErrors in a pull as the peer's misbehaviour, so a
 * network failure or a refusal must not be one (PeerCallError, SimCallError;
 * a named "unreachable" class in errors.ts would make this one check).
 */
/** A failed call is an UnreachableError: never a TongxingError, which would blame the peer's data. */
function expectCallFailure(error: Error): void {
  expect(error, `${error.name}: ${error.message}`).toBeInstanceOf(UnreachableError);
  expect(error).not.toBeInstanceOf(TongxingError);
}

export function transportCompliance(name: string, setup: TransportSetup): void {
  describe(`PeerTransport compliance: ${name}`, () => {
    const opened: TransportUnderTest[] = [];
    const start = async (count = 1): Promise<{ t: TransportUnderTest; remotes: ScriptedRemote[] }> => {
      const remotes = Array.from({ length: count }, () => new ScriptedRemote());
      const t = await setup(remotes);
      opened.push(t);
      return { t, remotes };
    };
    afterEach(async () => {
      for (const t of opened.splice(0)) await t.close();
    });

    describe('exchangeHeads', () => {
      it('delivers the request to the peer, naming the caller, and resolves with its response', async () => {
        const { t, remotes } = await start();
        const [remote] = remotes as [ScriptedRemote];
        remote.exchangeResponse = { heads: [headAt(7), headAt(9, Buffer.alloc(32, 0xb2))], proofs: [] };
        const response = await t.settle(t.transport.exchangeHeads(t.peers[0]!, { heads: [headAt(3)], proofs: [] }));
        expect(response.heads.map((h) => SignedHead.toJSON(h))).toEqual(remote.exchangeResponse.heads.map((h) => SignedHead.toJSON(h)));
        expect(remote.exchanges).toHaveLength(1);
        expect(remote.exchanges[0]!.from).toBe(t.caller);
        expect(SignedHead.toJSON(remote.exchanges[0]!.request.heads[0]!)).toEqual(SignedHead.toJSON(headAt(3)));
      });

      it(`carries head vectors of allianceMembersMax (${allianceMembersMax}) members both ways`, async () => {
        const { t, remotes } = await start();
        const vector = (tag: number) => Array.from({ length: allianceMembersMax }, (_, i) => headAt(i + 1, Buffer.alloc(32, (i * 7 + tag) & 0xff)));
        remotes[0]!.exchangeResponse = { heads: vector(1), proofs: [] };
        const response = await t.settle(t.transport.exchangeHeads(t.peers[0]!, { heads: vector(2), proofs: [] }));
        expect(response.heads).toHaveLength(allianceMembersMax);
        expect(remotes[0]!.exchanges[0]!.request.heads).toHaveLength(allianceMembersMax);
        expect(SignedHead.toJSON(response.heads.at(-1)!)).toEqual(SignedHead.toJSON(vector(1).at(-1)!));
      });

      it('rejects, as a failed call, when the peer is unreachable', async () => {
        const { t } = await start();
        expectCallFailure(await rejection(t.settle(t.transport.exchangeHeads(t.unreachable, { heads: [], proofs: [] }))));
      });

      it('rejects when the peer is not a member', async () => {
        const { t } = await start();
        await rejection(t.settle(t.transport.exchangeHeads(t.stranger, { heads: [], proofs: [] })));
      });

      it("rejects, as a failed call carrying the peer's reason, when the peer refuses", async () => {
        const { t, remotes } = await start();
        remotes[0]!.exchangeResponse = new MembershipError('caller is suspended');
        const error = await rejection(t.settle(t.transport.exchangeHeads(t.peers[0]!, { heads: [], proofs: [] })));
        expectCallFailure(error);
        expect(error.message).toContain('caller is suspended');
      });
    });

    describe('pullEntries', () => {
      it('yields the chunks the peer serves, in order and intact, then ends', async () => {
        const { t, remotes } = await start();
        const served = [chunk(0, 3), chunk(3, 4), chunk(4, 10)];
        remotes[0]!.serve = async function* () {
          yield* served;
        };
        const request = { author: authorBytes, afterSeq: 0n, upToSeq: 10n };
        expect(plain(await t.settle(collect(t.transport.pullEntries(t.peers[0]!, request))))).toEqual(plain(served));
        expect(remotes[0]!.pulls).toEqual([{ from: t.caller, request }]);
        expect(remotes[0]!.events).toEqual(['open 1', 'close 1']);
      });

      it('ends without a chunk when the peer has nothing to serve', async () => {
        const { t } = await start();
        expect(await t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest)))).toEqual([]);
      });

      it(`delivers a chunk of rangeEntriesMax (${rangeEntriesMax}) entries, and one larger than grpcMessageBytesMax, whole`, async () => {
        const { t, remotes } = await start();
        const large = Math.ceil((1.5 * grpcMessageBytesMax) / entryBytesMax);
        const served = [chunk(0, rangeEntriesMax), chunk(rangeEntriesMax, rangeEntriesMax + large, entryBytesMax)];
        remotes[0]!.serve = async function* () {
          yield* served;
        };
        expect(plain(await t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest))))).toEqual(plain(served));
      });

      it(`refuses a chunk over rangeEntriesMax entries or an entry over entryBytesMax (${entryBytesMax} bytes) with LimitError: the peer broke the protocol`, async () => {
        const { t, remotes } = await start();
        remotes[0]!.serve = async function* () {
          yield chunk(0, rangeEntriesMax + 1);
        };
        const tooMany = await rejection(t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest))));
        expect(tooMany).toBeInstanceOf(LimitError);
        expect(tooMany.message).toContain(`rangeEntriesMax ${rangeEntriesMax}`);
        remotes[0]!.serve = async function* () {
          yield chunk(0, 1);
          yield chunk(1, 2, entryBytesMax + 1);
        };
        const tooLarge = await rejection(t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest))));
        expect(tooLarge).toBeInstanceOf(LimitError);
        expect(tooLarge.message).toContain(`entryBytesMax ${entryBytesMax}`);
      });

      it('creates the stream without calling: failures surface on iteration, as a failed call when unreachable', async () => {
        const { t } = await start();
        const unreachable = t.transport.pullEntries(t.unreachable, pullRequest);
        const stranger = t.transport.pullEntries(t.stranger, pullRequest);
        expectCallFailure(await rejection(t.settle(collect(unreachable))));
        await rejection(t.settle(collect(stranger)));
      });

      it("rejects, as a failed call carrying the peer's reason, when the peer refuses or fails mid-stream", async () => {
        const { t, remotes } = await start();
        remotes[0]!.serve = async function* () {
          throw new MembershipError('caller is not a member here');
        };
        const refused = await rejection(t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest))));
        expectCallFailure(refused);
        expect(refused.message).toContain('caller is not a member here');

        remotes[0]!.serve = async function* () {
          yield chunk(0, 2);
          throw new LimitError('store read failed');
        };
        const received: PullEntriesResponse[] = [];
        const failed = await rejection(
          t.settle(
            (async () => {
              for await (const c of t.transport.pullEntries(t.peers[0]!, pullRequest)) received.push(c);
            })(),
          ),
        );
        expectCallFailure(failed);
        expect(failed.message).toContain('store read failed');
        expect(plain(received)).toEqual(plain([chunk(0, 2)]));
      });

      it("stopping early cancels the peer's stream", async () => {
        const { t, remotes } = await start();
        const remote = remotes[0]!;
        remote.serve = async function* () {
          for (let seq = 1; seq <= 1000; seq++) yield chunk(seq - 1, seq);
        };
        const first = await t.settle(
          (async () => {
            for await (const c of t.transport.pullEntries(t.peers[0]!, pullRequest)) return c;
            return undefined;
          })(),
        );
        expect(plain([first!])).toEqual(plain([chunk(0, 1)]));
        await t.settle(remote.until(() => remote.pullsClosed === 1));
        expect(remote.events).toEqual(['open 1', 'close 1']);
      });
    });

    describe(`pull slots: at most pullsInFlightPerPeerMax (${pullsInFlightPerPeerMax}) pulls per peer`, () => {
      it('queues pulls beyond the bound and runs each, in order, as an earlier one ends', async () => {
        const { t, remotes } = await start();
        const remote = remotes[0]!;
        const gates = Array.from({ length: pullsInFlightPerPeerMax + 2 }, () => new Gate());
        remote.serve = async function* (_from, request) {
          const n = Number(request.afterSeq);
          await gates[n]!.opened;
          yield chunk(n, n + 1);
        };
        const pulls = gates.map((_, n) => collect(t.transport.pullEntries(t.peers[0]!, { ...pullRequest, afterSeq: BigInt(n) })));
        await t.settle(remote.until(() => remote.pulls.length === pullsInFlightPerPeerMax));
        // A round trip to the same peer: a pull sent beyond the bound would have arrived by now.
        await t.settle(t.transport.exchangeHeads(t.peers[0]!, { heads: [], proofs: [] }));
        // The first pullsInFlightPerPeerMax asked first; streams may arrive in any order.
        expect(remote.pulls.map((p) => Number(p.request.afterSeq)).sort()).toEqual(Array.from({ length: pullsInFlightPerPeerMax }, (_, n) => n));

        gates[1]!.open();
        expect(plain(await t.settle(pulls[1]!))).toEqual(plain([chunk(1, 2)]));
        await t.settle(remote.until(() => remote.pulls.length === pullsInFlightPerPeerMax + 1));
        expect(Number(remote.pulls.at(-1)!.request.afterSeq)).toBe(pullsInFlightPerPeerMax); // the longest waiting one
        for (const gate of gates) gate.open();
        const all = await t.settle(Promise.all(pulls));
        expect(all.map(plain)).toEqual(gates.map((_, n) => plain([chunk(n, n + 1)])));
        // Every pull beyond the bound opened only after an earlier one had closed.
        const opens = remote.events.filter((e) => e.startsWith('open'));
        for (const late of opens.slice(pullsInFlightPerPeerMax)) {
          expect(remote.events.indexOf(late)).toBeGreaterThan(remote.events.findIndex((e) => e.startsWith('close')));
        }
      });

      it("counts per peer: a peer's full slots do not hold up a pull from another", async () => {
        const { t, remotes } = await start(2);
        const [busy, other] = remotes as [ScriptedRemote, ScriptedRemote];
        const gate = new Gate();
        busy.serve = async function* () {
          await gate.opened;
          yield chunk(0, 1);
        };
        other.serve = async function* () {
          yield chunk(0, 2);
        };
        const held = Array.from({ length: pullsInFlightPerPeerMax }, () => collect(t.transport.pullEntries(t.peers[0]!, pullRequest)));
        await t.settle(busy.until(() => busy.pulls.length === pullsInFlightPerPeerMax));
        expect(plain(await t.settle(collect(t.transport.pullEntries(t.peers[1]!, pullRequest))))).toEqual(plain([chunk(0, 2)]));
        gate.open();
        await t.settle(Promise.all(held));
      });

      it('frees the slot of a pull that failed or was abandoned', async () => {
        const { t, remotes } = await start();
        const remote = remotes[0]!;
        remote.serve = async function* () {
          throw new MembershipError('not now');
        };
        for (let i = 0; i < pullsInFlightPerPeerMax; i++) await rejection(t.settle(collect(t.transport.pullEntries(t.peers[0]!, pullRequest))));
        remote.serve = async function* () {
          for (let seq = 1; seq <= 1000; seq++) yield chunk(seq - 1, seq);
        };
        for (let i = 0; i < pullsInFlightPerPeerMax; i++) {
          await t.settle(
            (async () => {
              for await (const c of t.transport.pullEntries(t.peers[0]!, pullRequest)) return c;
            })(),
          );
        }
        await t.settle(remote.until(() => remote.pullsClosed === 2 * pullsInFlightPerPeerMax));
        remote.serve = async function* () {
          yield chunk(0, 1);
        };
        const after = Array.from({ length: pullsInFlightPerPeerMax + 1 }, () => collect(t.transport.pullEntries(t.peers[0]!, pullRequest)));
        expect((await t.settle(Promise.all(after))).map(plain)).toEqual(after.map(() => plain([chunk(0, 1)])));
      });
    });

    describe('announce', () => {
      it('reaches every reachable member, from the caller', async () => {
        const { t, remotes } = await start(2);
        const announcement: Announcement = { kind: { $case: 'head', value: { head: headAt(5), entries: entries(4, 5) } } };
        t.transport.announce(announcement);
        for (const remote of remotes) {
          await t.settle(remote.until(() => remote.announcements.length > 0));
          expect(remote.announcements.map((a) => a.from)).toEqual([t.caller]);
          expect(remote.announcements[0]!.announcement.kind?.value).toEqual(announcement.kind!.value);
        }
      });

      it('is best effort and never throws: a refusing member, an announcement too large to gossip; later ones still go out', async () => {
        const { t, remotes } = await start();
        const remote = remotes[0]!;
        remote.announcementVerdict = 'reject';
        const tooLarge = entries(0, Math.ceil(gossipMessageBytesMax / entryBytesMax) + 1, entryBytesMax);
        expect(t.transport.announce({ kind: { $case: 'head', value: { head: headAt(1), entries: [] } } })).toBeUndefined();
        expect(t.transport.announce({ kind: { $case: 'head', value: { head: headAt(tooLarge.length), entries: tooLarge } } })).toBeUndefined();
        await t.settle(remote.until(() => remote.announcements.length > 0));
        remote.announcementVerdict = 'accept';
        t.transport.announce({ kind: { $case: 'head', value: { head: headAt(9), entries: [] } } });
        await t.settle(remote.until(() => remote.announcements.some(({ announcement }) => announcement.kind?.$case === 'head' && announcement.kind.value.head?.head?.seq === 9n)));
      });
    });
  });
}
