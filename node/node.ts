import { randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Announcement } from '../gen/tongxing/federation/v1/peer.js';
import { readPrivateKeyPem } from '../federation/crypto/pem.js';
import { EncodingError } from '../federation/errors.js';
import { Membership } from '../federation/membership.js';
import { Replica, type Clock, type ReplicaEvent } from '../federation/replica.js';
import { startApiServer } from './api/server.js';
import type { Alliance, NodeConfig } from './config.js';
import { Gossip, generatePeerKey, peerKeyFromBase64, peerKeyToBase64 } from './gossip.js';
import { GrpcPeerTransport } from './peer/client.js';
import { startPeerServer } from './peer/server.js';
import { LevelStore } from './store/level.js';
import { startTelemetry } from './telemetry.js';

// The deployable node: wires the pure replica to LevelDB, gRPC, libp2p gossip
// and OpenTelemetry, and runs the periodic anti-entropy and beacon rounds.

export interface RunningNode {
  readonly nodeId: string;
  readonly city: string;
  readonly peerPort: number;
  readonly apiPort: number;
  readonly metricsPort: number | undefined;
  readonly gossipAddresses: string[];
  readonly replica: Replica;
  /** Finishes in-flight commits, stops servers and timers, closes the store. Idempotent. */
  stop(): Promise<void>;
}

const wallClock: Clock = { nowMs: () => Date.now() };

/** The libp2p key file is created on first start so the peer id stays stable across restarts. */
function loadGossipKey(path: string) {
  if (existsSync(path)) return peerKeyFromBase64(readFileSync(path, 'utf8').trim());
  return generatePeerKey().then((key) => {
    writeFileSync(path, peerKeyToBase64(key) + '\n', { mode: 0o600 });
    return key;
  });
}

export async function startNode(config: NodeConfig, alliance: Alliance, log: (line: string) => void = () => {}): Promise<RunningNode> {
  const keyPair = readPrivateKeyPem(readFileSync(config.keyFile, 'utf8'));
  const members = new Membership(alliance.members);
  const self = alliance.members.find((m) => Buffer.from(m.publicKey).equals(keyPair.publicKey));
  if (!self) throw new EncodingError(`the key in ${config.keyFile} belongs to no member of alliance "${alliance.name}"`);

  mkdirSync(config.dataDir, { recursive: true });
  const cleanup: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error) => log(`stop: ${(error as Error).message}`));
  };
  try {
    const store = await LevelStore.open(join(config.dataDir, 'store'));
    cleanup.push(() => store.close());
    const telemetry = await startTelemetry({ metricsListen: config.metricsListen, nodeId: self.nodeId, city: self.city });
    cleanup.push(() => telemetry.stop());

    let gossip: Gossip | undefined;
    const transport = new GrpcPeerTransport({
      allianceId: alliance.allianceId,
      keyPair,
      members,
      announce: (announcement) => {
        telemetry.gossipMessage('out');
        void gossip?.publish(Announcement.encode(announcement).finish()).catch((error) => log(`gossip: ${(error as Error).message}`));
      },
    });
    cleanup.push(async () => transport.close());

    const onEvent = (event: ReplicaEvent) => {
      telemetry.onReplicaEvent(event);
      if (event.type === 'rejected' || event.type === 'equivocation') log(`${event.type}: ${JSON.stringify(event)}`);
    };
    const replica = await Replica.open(
      { allianceId: alliance.allianceId, keyPair, members },
      { store, transport, clock: wallClock, random: { int: (n) => randomInt(n) }, onEvent },
    );
    cleanup.push(() => replica.close());

    if (config.gossipListen !== '') gossip = new Gossip({
      allianceIdHex: alliance.allianceId.toString('hex'),
      listen: config.gossipListen,
      privateKey: await loadGossipKey(config.gossipKeyFile),
      bootstrap: [...alliance.members.filter((m) => m.nodeId !== self.nodeId).map((m) => m.gossip), ...config.bootstrap],
      validate: async (payload) => {
        let verdict: 'accept' | 'reject' | 'ignore';
        try {
          verdict = await replica.receiveAnnouncement(Announcement.decode(payload));
        } catch {
          verdict = 'reject';
        }
        telemetry.gossipMessage('in', verdict);
        return verdict;
      },
    });
    const running = gossip;
    if (running) {
      await running.start();
      cleanup.push(() => running.stop());
    }

    const peerServer = await startPeerServer({ listen: config.peerListen }, { replica, members, allianceId: alliance.allianceId, clock: wallClock });
    cleanup.push(() => peerServer.stop());
    const apiServer = await startApiServer(
      { listen: config.apiListen },
      { replica, clock: wallClock, freshnessBudgetMs: alliance.freshnessBudgetMs, city: self.city, allianceId: alliance.allianceId, startedAtMs: Date.now() },
    );
    cleanup.push(() => apiServer.stop());

    telemetry.observeLag(() => {
      const now = Date.now();
      return replica.logs().map((l) => ({
        member: l.nodeId,
        city: members.get(l.nodeId)!.city,
        entries: l.knownSeq - l.storedSeq,
        ageMs: l.signedAtMs === undefined ? undefined : now - l.signedAtMs,
      }));
    });

    // Jitter spreads the rounds of many nodes so they do not all call at once.
    const every = (intervalMs: number, task: () => Promise<unknown> | void) => {
      let timer: NodeJS.Timeout;
      let running: Promise<unknown> | undefined;
      let stopping = false;
      const schedule = () => {
        if (stopping) return;
        timer = setTimeout(() => {
          running = Promise.resolve(task()).catch((error) => log(`round: ${(error as Error).message}`)).finally(schedule);
        }, intervalMs * (0.75 + Math.random() / 2));
      };
      schedule();
      cleanup.push(async () => {
        stopping = true;
        clearTimeout(timer);
        await running;
      });
    };
    every(config.antiEntropyIntervalMs, () => telemetry.span('anti-entropy round', {}, () => replica.antiEntropyRound()));
    every(config.beaconIntervalMs, () => replica.beacon(config.beaconIntervalMs / 2));
    replica.beacon();

    let stopped: Promise<void> | undefined;
    return {
      nodeId: self.nodeId,
      city: self.city,
      peerPort: peerServer.port,
      apiPort: apiServer.port,
      metricsPort: telemetry.metricsPort,
      gossipAddresses: running?.addresses() ?? [],
      replica,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
