import { catchUpCheckIntervalMs, catchUpProgressEntriesMin } from '../limits.js';
import { loadNodeConfig } from '../config.js';
import { createLogger, errorFields } from '../log.js';
import { startNode } from '../node.js';
import { exitOk, required, type Command } from './command.js';
import { progress, type Progress } from './progress.js';

/** The line a supervisor (or the demo) waits for; JSON after the marker. */
export const readyMarker = 'tongxing node ready ';

/** What the catch-up bar reads: every member's log as stored here and as known from peers. */
export interface CatchUpSource {
  logs(): ReadonlyArray<{ readonly storedSeq: number; readonly knownSeq: number }>;
}

export interface CatchUpWatcher {
  /** Looks at how far behind the node is and draws, advances or finishes the bar. */
  check(): void;
  /** Finishes a bar still shown. */
  stop(): void;
}

/**
 * A progress bar while the node is behind its peers by at least `minBehind`
 * entries (sum over members of known - stored seq): entries stored since it
 * fell behind, of those plus the ones still missing; rate and time left come
 * from the bar. The total grows when peers announce more meanwhile. Finishes
 * with "caught up" once nothing is missing; a later fall behind shows a new bar.
 */
export function catchUpWatcher(source: CatchUpSource, makeBar: (total: number) => Progress, minBehind = catchUpProgressEntriesMin): CatchUpWatcher {
  let bar: { progress: Progress; storedAtStart: number } | undefined;
  return {
    check() {
      let stored = 0;
      let behind = 0;
      for (const log of source.logs()) {
        stored += log.storedSeq;
        behind += Math.max(0, log.knownSeq - log.storedSeq);
      }
      if (!bar) {
        if (behind < minBehind) return;
        bar = { progress: makeBar(behind), storedAtStart: stored };
      }
      const done = stored - bar.storedAtStart;
      bar.progress.update(done, done + behind);
      if (behind === 0) {
        bar.progress.finish('caught up');
        bar = undefined;
      }
    },
    stop() {
      bar?.progress.finish('stopped before catching up');
      bar = undefined;
    },
  };
}

const start: Command = {
  path: ['node', 'start'],
  summary: 'run a city node until SIGINT or SIGTERM',
  usage: [
    '--config NODE.yaml',
    '',
    '  --config FILE  node configuration (docs/CONFIG.md)',
    '',
    'stdout: one line, "tongxing node ready {...}" with the node id and ports, once it serves.',
    'stderr: the log, one JSON object per line (level from logLevel); while the node is behind its',
    'peers, a catch-up progress bar.',
    '',
  ].join('\n'),
  options: { config: { type: 'string' } },
  async run(args, io) {
    const config = loadNodeConfig(required(args, 'config'));
    const log = createLogger({ level: config.logLevel });
    let node;
    try {
      node = await startNode(config, log);
    } catch (error) {
      log.fatal(errorFields(error), 'node did not start');
      throw error;
    }
    const ports = { peerPort: node.peerPort, apiPort: node.apiPort, httpPort: node.httpPort, metricsPort: node.metricsPort, gossip: node.gossipAddresses };
    io.stdout(readyMarker + JSON.stringify({ nodeId: node.nodeId, city: node.city, ...ports }) + '\n');
    const nodeLog = log.child({ nodeId: node.nodeId, city: node.city });
    nodeLog.info(ports, 'node ready');

    const catchUp = catchUpWatcher(node.replica, (total) => progress('catch-up', { total, unit: 'entries' }));
    const timer = setInterval(() => catchUp.check(), catchUpCheckIntervalMs);
    let shutdown = () => {};
    const signalled = new Promise<void>((resolve) => {
      shutdown = () => {
        process.off('SIGINT', shutdown);
        process.off('SIGTERM', shutdown);
        resolve();
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
    });
    // A store failure stops the node with its reason (the replica has logged it as fatal).
    const failure = await Promise.race([signalled.then(() => undefined), node.failed]);
    shutdown();
    clearInterval(timer);
    catchUp.stop();
    nodeLog.info(failure ? 'stopping: the store failed' : 'stopping: finishing in-flight batches');
    await node.stop();
    nodeLog.info('stopped');
    if (failure) throw failure;
    return exitOk;
  },
};

export const runCommands: Command[] = [start];
