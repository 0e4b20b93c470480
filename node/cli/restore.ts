import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readPrivateKeyPem } from '../../federation/crypto/pem.js';
import { nodeIdOf } from '../../federation/crypto/sm2.js';
import type { VerifiedGenesis } from '../../federation/governance/genesis.js';
import { computeGovernance, governedMembers } from '../../federation/governance/state.js';
import { Membership } from '../../federation/membership.js';
import { loadNodeConfig } from '../config.js';
import { loadGenesis } from '../genesis-file.js';
import { BackupError, restoreBackup, type BackupTrust, type BackupTrustSource } from '../store/backup.js';
import { exitNegative, exitOk, optional, printJson, required, UsageError, type Command } from './command.js';
import { stderrProgress } from './backup.js';
import { formatTime, hex, nodeIdPrefixChars } from './node-client.js';
import type { Progress } from './progress.js';

// `tongxing restore`: a backup file into a stopped node's data directory,
// verified whole before anything is written.

/**
 * The members' keys a backup is checked against: the genesis founders, then
 * whoever the governance records in the verified logs admitted (with rotated
 * keys), computed the way the replica computes them.
 */
export function genesisTrust(genesis: VerifiedGenesis): BackupTrustSource {
  return {
    allianceId: genesis.allianceId,
    trustFor(records) {
      const members = new Membership(governedMembers(computeGovernance(genesis, records)), { checkIds: false });
      return {
        allianceId: genesis.allianceId,
        keysFor: (nodeId, hlc) => members.keysFor(nodeId, hlc),
        describe: (nodeId) => `${members.get(nodeId)?.city ?? 'non-member'} (${nodeId.slice(0, nodeIdPrefixChars)})`,
      };
    },
  };
}

const restore: Command = {
  path: ['restore'],
  summary: "Restore a backup file into a stopped node's data directory (verified before anything is written)",
  usage: [
    '--in FILE (--config NODE.yaml | --alliance GENESIS.json --data-dir DIR) [--data-dir DIR] [--force] [--json]',
    '',
    '  --in FILE        a file from `tongxing backup`',
    "  --config FILE    the node's configuration: its alliance genesis file and dataDir",
    "  --alliance FILE  the alliance's genesis file (founders' keys; later members from the governance",
    '                   records in the backup), without --config',
    '  --data-dir DIR   where the store goes (<DIR>/store); default the config\'s dataDir',
    '  --force          replace a store that is there (its node must be stopped)',
    '  --json           print one JSON object',
    '',
    'The whole file is checked first: its SM3 checksum, and every log re-verified against the heads',
    "its author signed, with the members' keys (the genesis and governance). Nothing is written unless all",
    'of it verifies. The store is then written beside the old one and swapped in when complete.',
    'Views are rebuilt from the logs when the node next starts; it then catches up from its peers.',
    "Before writing through a node restored from its own backup, wait until `tongxing node status`",
    'shows its own log is not behind (its peers hold what it wrote after the backup).',
    '',
    'Exit: 0 restored, 1 the backup is damaged, tampered with or not for this alliance (nothing written),',
    '2 bad usage or a store is there without --force.',
  ].join('\n'),
  options: { in: { type: 'string' }, config: { type: 'string' }, alliance: { type: 'string' }, 'data-dir': { type: 'string' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
  async run(args, io) {
    const file = required(args, 'in');
    const configFile = optional(args, 'config');
    const allianceFile = optional(args, 'alliance');
    if (configFile !== undefined && allianceFile !== undefined) throw new UsageError('pass --config or --alliance, not both');
    if (configFile === undefined && allianceFile === undefined) throw new UsageError('--config or --alliance is required (the members the backup is checked against)');
    const config = configFile === undefined ? undefined : loadNodeConfig(configFile);
    const dataDir = optional(args, 'data-dir') ?? config?.dataDir;
    if (dataDir === undefined) throw new UsageError('--data-dir is required with --alliance');
    const genesis = loadGenesis(config?.allianceFile ?? allianceFile!);
    const trust = genesisTrust(genesis);
    const ownKey = config === undefined ? undefined : readPrivateKeyPem(readFileSync(config.keyFile, 'utf8')).publicKey;
    // The node's member id as node start records it (it outlives a key rotation), else its key's.
    const idFile = join(resolve(dataDir), 'node-id');
    const recordedId = existsSync(idFile) ? readFileSync(idFile, 'utf8').trim() : undefined;
    const isOwnBackup = (backedUp: string, verified: BackupTrust): boolean => {
      if (recordedId !== undefined) return recordedId === backedUp;
      if (ownKey === undefined) return false;
      const [current] = verified.keysFor(backedUp, 2n ** 64n - 1n);
      return nodeIdOf(ownKey) === backedUp || (current !== undefined && Buffer.from(current).equals(Buffer.from(ownKey)));
    };

    const bars: Partial<Record<'verify' | 'write', Progress>> = {};
    let phase: 'verify' | 'write' | undefined;
    let summary;
    try {
      summary = await restoreBackup({
        file,
        dataDir: resolve(dataDir),
        trust,
        force: args.values.force === true,
        isOwnBackup,
        onProgress: (now, done, total) => {
          if (phase !== now && phase !== undefined) bars[phase]!.finish(phase === 'verify' ? 'verified' : undefined);
          phase = now;
          (bars[now] ??= stderrProgress(io, now === 'verify' ? 'verify' : 'restore', total)).update(done);
        },
      });
    } catch (error) {
      if (phase) bars[phase]!.finish('failed');
      if (!(error instanceof BackupError)) throw error; // BackupTargetError and the rest: exit 2 in main
      if (args.values.json) printJson(io, { error: { file, details: error.message } });
      io.stderr(`tongxing restore: ${error.message}\nnothing was written.\n`);
      return exitNegative;
    }
    if (phase) bars[phase]!.finish('done');
    const backedUp = hex(summary.header.nodeId);
    const own = isOwnBackup(backedUp, summary.trust);
    // A rotated key no longer names the member: keep the id the backup was taken under.
    if (own && recordedId === undefined) writeFileSync(idFile, backedUp + '\n');
    const result = {
      file,
      store: summary.storeDirectory,
      allianceId: hex(summary.header.allianceId),
      nodeId: backedUp,
      createdAtMs: Number(summary.header.createdAtMs),
      logs: summary.header.logs.length,
      entries: summary.entries,
      chunks: summary.chunks,
      proofs: summary.proofs,
      privateStates: summary.privateStates,
      otherNode: !own,
    };
    if (args.values.json) printJson(io, result);
    else {
      io.stdout(
        `restored ${summary.entries.toLocaleString('en-US')} entries in ${result.logs} logs, ${summary.proofs} equivocation proofs, ` +
          `from the backup of ${summary.trust.describe(backedUp)} as of ${formatTime(result.createdAtMs)}\n` +
          `into ${summary.storeDirectory}. Start the node: it rebuilds its views, then catches up from its peers.\n` +
          (summary.privateStates.restored > 0 ? `${summary.privateStates.restored} private state keys (experts' personal records, seeds) restored.\n` : '') +
          (result.otherNode
            ? `note: the backup was not taken on this node${config ? '' : ' (or no --config says which node this is)'}: its logs seed this store` +
              `${summary.privateStates.skipped > 0 ? `; its ${summary.privateStates.skipped} private state keys were left out` : ''}.\n`
            : ''),
      );
    }
    return exitOk;
  },
};

export const restoreCommands: Command[] = [restore];
