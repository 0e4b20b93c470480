import { status as grpcStatus } from '@grpc/grpc-js';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPrivateKeyPem } from '../federation/crypto/pem.js';
import { nodeIdOf, type Sm2KeyPair } from '../federation/crypto/sm2.js';
import { keyPairSigner } from '../federation/evidence.js';
import { EncodingError, type FatalError } from '../federation/errors.js';
import { Membership } from '../federation/membership.js';
import { Replica, type Clock, type ReplicaEvent } from '../federation/replica.js';
import { nodeOperations } from './api/node-status.js';
import { startHttpServer } from './api/http.js';
import { startApiServer } from './api/server.js';
import { accessService } from './api/access.js';
import { consoleService } from './api/console.js';
import { apiContext, type ApiService } from './api/service.js';
import { statusOf } from './error-table.js';
import { openAccess } from './access/node-access.js';
import { apiServices } from './api/services.js';
import type { NodeConfig } from './config.js';
import { loadAlliance } from './genesis-file.js';
import { announcementValidator, Gossip, gossipAnnouncer, loadOrCreatePeerKey, memberPeerIds } from './gossip.js';
import { errorFields, silentLogger, withTraceContext, type Logger } from './log.js';
import { GrpcPeerTransport } from './peer/client.js';
import { addEvaluationPeerService, EvaluationPeerClient, LeaseDesk } from './peer/evaluation.js';
import { PeerTls, readTlsIdentity } from './peer/tls.js';
import { startPeerServer } from './peer/server.js';
import { LevelStore } from './store/level.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { replicationLag } from './telemetry/replication.js';

// The deployable node: wires the pure replica to LevelDB, gRPC, libp2p gossip
// and OpenTelemetry, and runs the periodic anti-entropy and beacon rounds.

export interface RunningNode {
  readonly nodeId: string;
  readonly city: string;
  readonly peerPort: number;
  readonly apiPort: number;
  /** The HTTP/JSON API's port; undefined when httpListen is ''. */
  readonly httpPort: number | undefined;
  readonly metricsPort: number | undefined;
  readonly gossipAddresses: string[];
  readonly replica: Replica;
  /** Settles with the reason when the replica stopped on a store failure: the process must stop too. */
  readonly failed: Promise<FatalError>;
  /** Finishes in-flight commits, stops servers and timers, closes the store. Idempotent. */
  stop(): Promise<void>;
}

const wallClock: Clock = { nowMs: () => Date.now() };

/** host:port as the CLI on this machine dials it: a wildcard listen address is reached on loopback. */
function localAddress(listen: string, port: number): string {
  const host = listen.slice(0, listen.lastIndexOf(':'));
  const local = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host;
  return `${local}:${port}`;
}

/**
 * This node's member id: recorded in the data directory at first start, so a
 * node keeps it after its key is rotated (ids are SM3 of the first key).
 */
function memberIdOf(dataDir: string, keyPair: Sm2KeyPair): string {
  const path = join(dataDir, 'node-id');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const nodeId = nodeIdOf(keyPair.publicKey);
  writeFileSync(path, nodeId + '\n');
  return nodeId;
}

/** `baseLog` gets the node's lines (with node id, city and the active trace); the CLI passes its JSON logger. */
export async function startNode(config: NodeConfig, baseLog: Logger = silentLogger): Promise<RunningNode> {
  const alliance = loadAlliance(config.allianceFile);
  const freshnessBudgetMs = Number(alliance.body.freshnessBudgetMs);
  const keyPair = readPrivateKeyPem(readFileSync(config.keyFile, 'utf8'));
  const nextKeyPair = config.nextKeyFile === undefined ? undefined : readPrivateKeyPem(readFileSync(config.nextKeyFile, 'utf8'));
  const tlsIdentity = readTlsIdentity(config.tlsFile);
  mkdirSync(config.dataDir, { recursive: true });
  const nodeId = memberIdOf(config.dataDir, keyPair);
  // Governance fills the membership when the replica opens, and changes it as epochs open.
  const members = new Membership([]);
  let log = baseLog.child({ nodeId });

  const cleanup: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error) => log.error(errorFields(error), 'stop step failed'));
  };
  try {
    const store = await LevelStore.open(join(config.dataDir, 'store'), { onMigrate: (m) => log.warn({ from: m.from, to: m.to }, `store schema migration: ${m.description}`) });
    cleanup.push(() => store.close());
    let telemetry: Telemetry | undefined;
    let gossip: Gossip | undefined;
    const tls = new PeerTls(tlsIdentity, members);
    const announceOnGossip = gossipAnnouncer(() => gossip, (error) => log.warn(errorFields(error), 'gossip publish failed'));
    const transport = new GrpcPeerTransport({
      allianceId: alliance.allianceId,
      keyPair,
      nodeId,
      members,
      tls,
      announce: (announcement) => {
        telemetry?.gossipMessage('out');
        announceOnGossip(announcement);
      },
    });
    cleanup.push(async () => transport.close());

    const onEvent = (event: ReplicaEvent) => {
      telemetry?.onReplicaEvent(event);
      if (event.type === 'epoch') log.info({ epoch: event.epoch }, 'alliance epoch opened');
      if (event.type === 'rejected' || event.type === 'equivocation') log.warn({ event }, event.type === 'rejected' ? `rejected data: ${event.reason}` : 'equivocation proved');
    };
    let reportFailure!: (error: FatalError) => void;
    const failed = new Promise<FatalError>((resolve) => (reportFailure = resolve));
    const onFatal = (error: FatalError) => {
      log.fatal(errorFields(error), 'the replica stopped: the store failed');
      reportFailure(error);
    };
    const replica = await Replica.open(
      { allianceId: alliance.allianceId, keyPair, genesis: alliance, members, nodeId, nextKeyPair, snapshot: alliance.snapshot },
      { store, transport, clock: wallClock, random: { int: (n) => randomInt(n), bytes: (length) => randomBytes(length) }, onEvent, onFatal },
    );
    cleanup.push(() => replica.close());
    const self = members.get(nodeId);
    const city = self?.city ?? 'not yet a member';
    if (self && !Buffer.from(self.tlsCertificate ?? []).equals(tlsIdentity.certDer)) {
      throw new EncodingError(`${config.tlsFile} is not the TLS certificate the membership records for ${self.city}: use the one made with this member's key, or propose update-member`);
    }
    if (!self) log.warn('this node is not a member yet: it catches up from the members and writes once governance admits it');
    // The key this member signs with: the next one once governance applies its rotation (the replica switches its log by itself).
    let currentKey = keyPair;
    const signers: Array<{ rekey(keyPair: Sm2KeyPair): void }> = [transport];
    const followRotation = () => {
      const me = members.get(nodeId);
      if (!nextKeyPair || currentKey === nextKeyPair || !me || !Buffer.from(me.publicKey).equals(nextKeyPair.publicKey)) return;
      currentKey = nextKeyPair;
      for (const s of signers) s.rekey(nextKeyPair);
      log.info('now signing with the next key: governance applied the rotation');
    };
    followRotation();
    members.onChange(followRotation);
    // Admitted (or suspended, reinstated) while running: say so at once; GetStatus names the city from the membership too.
    let standing = members.get(nodeId)?.status;
    members.onChange(() => {
      const now = members.get(nodeId);
      if (now?.status === standing) return;
      standing = now?.status;
      log.info({ city: now?.city, status: standing }, standing === 'active' ? `governance admitted this node: it is now the member ${now!.city} and writes` : `this node's membership is now ${standing ?? 'none'}`);
    });
    telemetry = await startTelemetry({ ...config, nodeId, city });
    const started = telemetry;
    cleanup.push(() => started.stop());
    log = withTraceContext(baseLog, () => started.activeSpanContext(), { nodeId, city });

    // Gossip is members only: the gater admits the active members' recorded peer ids,
    // bootstrap addresses included. A node not yet admitted allows the members but
    // they refuse it, so until its admission it learns heads by anti-entropy.
    let gossipPeers = memberPeerIds(members, nodeId);
    const validateAnnouncement = announcementValidator(replica, (peerId) => gossipPeers.get(peerId));
    if (config.gossipListen !== '') gossip = new Gossip({
      allianceIdHex: alliance.allianceId.toString('hex'),
      listen: config.gossipListen,
      privateKey: await loadOrCreatePeerKey(config.gossipKeyFile),
      allowedPeerIds: gossipPeers.keys(),
      bootstrap: [...members.active().filter((m) => m.nodeId !== nodeId).flatMap((m) => m.gossipAddresses ?? []), ...config.bootstrap],
      validate: async (payload, fromPeer, viaPeer) => {
        const verdict = await validateAnnouncement(payload, fromPeer, viaPeer);
        started.gossipMessage('in', verdict);
        return verdict;
      },
    });
    const running = gossip;
    if (running) {
      await running.start();
      cleanup.push(() => running.stop());
      // An epoch opened: a member suspended or removed loses its gossip connections now; one admitted may connect.
      const unsubscribe = members.onChange(() => {
        gossipPeers = memberPeerIds(members, nodeId);
        void running.allowPeers(gossipPeers.keys()).then((closed) => {
          if (closed > 0) log.info({ closed }, 'closed the gossip connections of peers that are no longer active members');
        });
      });
      cleanup.push(async () => void unsubscribe());
    }

    // One lease desk decides every reservation of this node's experts, asked locally or by a host node.
    const desk = new LeaseDesk(replica);
    const leases = new EvaluationPeerClient({ allianceId: alliance.allianceId, keyPair: currentKey, nodeId, members, tls });
    signers.push(leases);
    cleanup.push(async () => leases.close());
    const peerServer = await startPeerServer(
      { listen: config.peerListen },
      { replica, members, allianceId: alliance.allianceId, clock: wallClock, tls, addServices: (server, verifier) => addEvaluationPeerService(server, { desk, verifier }) },
    );
    cleanup.push(() => peerServer.stop());
    const access = await openAccess({
      dataDir: config.dataDir,
      names: config.apiNames,
      approverPublicKey: keyPair.publicKey,
      approverKeyFile: config.keyFile,
      outcomeOf: (error) => grpcStatus[statusOf(error).code],
      onAuditError: (error) => log.error(errorFields(error), 'audit trail: a refusal could not be recorded'),
    });
    // One set of service instances behind gRPC and HTTP/JSON: what a service keeps (its KeyedSerial, challenges) is shared.
    const context = apiContext(
      { replica, clock: wallClock, freshnessBudgetMs, city, allianceId: alliance.allianceId, startedAtMs: Date.now(), genesis: alliance.genesis,
        evaluation: { desk, leaseClient: leases },
        signer: { get publicKey() { return currentKey.publicKey; }, sign: (message) => keyPairSigner(currentKey).sign(message) },
        // The replica's policy object changes with each epoch: always ask the current one.
        policy: { refusal: (...args) => replica.policy.refusal(...args), trustedRoots: (hlc) => replica.policy.trustedRoots(hlc) },
        operations: nodeOperations({ store, telemetry, allianceId: alliance.allianceId, nodeId, nodeKey: () => members.get(nodeId)?.publicKey, members: () => members.size, antiEntropyIntervalMs: config.antiEntropyIntervalMs, nowMs: Date.now,
          localFiles: () => access.guard.audit.files().map((f) => ({ name: `audit/${f.name}`, path: f.path, bytes: f.bytes })) }) },
    );
    const services: ApiService[] = apiServices(context);
    services.push(accessService(access.guard), consoleService(context, access.guard.registry));
    const { guard, tls: apiTls } = access;
    const apiServer = await startApiServer({ listen: config.apiListen, guard, tls: apiTls }, services);
    cleanup.push(() => apiServer.stop());
    const httpServer =
      config.httpListen === '' ? undefined : await startHttpServer({ listen: config.httpListen, guard, tls: apiTls, names: config.apiNames, log: (fields, message) => log.error(fields, message) }, services);
    if (httpServer) cleanup.push(() => httpServer.stop());
    access.publishAdmin({ grpc: localAddress(config.apiListen, apiServer.port), http: httpServer ? `https://${localAddress(config.httpListen, httpServer.port)}` : '' });

    // Judged against the budget the API's checks use, so the breach metric follows their verdicts.
    telemetry.observeLag(() => replicationLag(replica, (id) => members.get(id)?.city ?? '', wallClock.nowMs(), freshnessBudgetMs));

    // Jitter spreads the rounds of many nodes so they do not all call at once.
    const every = (intervalMs: number, task: () => Promise<unknown> | void) => {
      let timer: NodeJS.Timeout;
      let running: Promise<unknown> | undefined;
      let stopping = false;
      const schedule = () => {
        if (stopping) return;
        timer = setTimeout(() => {
          running = Promise.resolve(task()).catch((error) => log.warn(errorFields(error), 'periodic round failed')).finally(schedule);
        }, intervalMs * (0.75 + Math.random() / 2));
      };
      schedule();
      cleanup.push(async () => {
        stopping = true;
        clearTimeout(timer);
        await running;
      });
    };
    every(config.antiEntropyIntervalMs, () => started.span('anti-entropy round', {}, () => replica.antiEntropyRound()));
    every(config.beaconIntervalMs, () => replica.beacon(config.beaconIntervalMs / 2));
    replica.beacon();

    let stopped: Promise<void> | undefined;
    return {
      nodeId,
      city,
      peerPort: peerServer.port,
      apiPort: apiServer.port,
      httpPort: httpServer?.port,
      metricsPort: telemetry.metricsPort,
      gossipAddresses: running?.addresses() ?? [],
      replica,
      failed,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
