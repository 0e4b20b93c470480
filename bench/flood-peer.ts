import '../node/polyfill.js';
import { randomBytes } from 'node:crypto';
import { Gossip, loadOrCreatePeerKey } from '../node/gossip.js';

// The flooding member of bench/flood.ts, in a process of its own so that its
// publishing does not share the measured node's event loop:
//   node dist/bench/flood-peer.js ALLIANCE_HEX GOSSIP_KEY_FILE BOOTSTRAP_MULTIADDR DURATION_MS
// Prints the number of messages it published to at least one peer.

const [allianceIdHex, keyFile, bootstrap, durationMs] = process.argv.slice(2) as [string, string, string, string];
const gossip = new Gossip({
  allianceIdHex,
  allowedPeerIds: [bootstrap.split('/p2p/')[1]!],
  bootstrap: [bootstrap],
  privateKey: await loadOrCreatePeerKey(keyFile),
  validate: () => 'ignore',
});
await gossip.start();
const until = Date.now() + Number(durationMs);
let tried = 0;
let sent = 0; // published to at least one peer (the flooded node)
while (Date.now() < until) {
  if ((await gossip.publish(randomBytes(200)).catch(() => 0)) > 0) sent++;
  if (++tried % 50 === 0) await new Promise((ok) => setImmediate(ok));
}
await gossip.stop();
process.stdout.write(`${sent}\n`);
