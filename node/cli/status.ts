import { judgeFreshness } from '../../federation/freshness.js';
import { checkHealth } from '../grpc-standard.js';
import { exitNegative, exitOk, optional, printJson, UsageError, type Command } from './command.js';
import { apiChannel } from '../api/client.js';
import { callNode, formatDuration, formatTime, hex, nodeConnection, nodeIdPrefixChars, nodeOptions, nodeUsageLines } from './node-client.js';

// `tongxing node status`: the node's view of the alliance at a glance.
// `tongxing node health`: the grpc.health.v1 check a container healthcheck runs.

/** 48.2 MB */
function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

const status: Command = {
  path: ['node', 'status'],
  summary: "Show a node's view of the alliance: each member's link, log, lag and freshness",
  usage: [
    '[--node HOST:PORT] [--json]',
    '',
    ...nodeUsageLines,
    '',
    'First lines: the node, its uptime, entries stored, store size on disk, ingest rate (entries stored',
    'per second over the last minute, from every source), and freshness-budget breaches.',
    '',
    'Columns: member city, node id prefix; link (connected, or DOWN when not heard from for longer than',
    'the link timeout, with the time since the last peer call or pull either way); stored seq / known',
    'seq (behind by N: entries heard of but not yet stored); lag (entries behind, and for how long);',
    'head age (since the newest head of its log heard here was signed); breaches (times its data became',
    'older than the freshness budget since this node started); flags (self: this node; STALE: older than',
    'the budget now, sanctions checks answer unknown-stale; EQUIVOCATED: signed two histories, quarantined).',
    '',
    'Exit: 0 answered, 2 bad usage or the node could not answer.',
  ].join('\n'),
  options: nodeOptions,
  async run(args, io) {
    return callNode(args, io, async (api) => {
      const reply = await api.getStatus();
      const nowMs = Date.now();
      const budgetMs = Number(reply.freshnessBudgetMs);
      const members = reply.members.map((m) => {
        const headAgeMs = m.headAgeMs < 0n ? null : Number(m.headAgeMs);
        return {
          nodeId: hex(m.nodeId),
          city: m.city,
          regionCode: m.regionCode,
          storedSeq: Number(m.storedSeq),
          knownSeq: Number(m.knownSeq),
          behindBy: Math.max(0, Number(m.knownSeq - m.storedSeq)),
          lagMs: Number(m.lagMs),
          headAgeMs,
          lastContactMs: m.lastContactMs === 0n ? null : Number(m.lastContactMs),
          connected: m.connected,
          freshnessBreaches: m.freshnessBreaches,
          staleSinceMs: m.staleSinceMs === 0n ? null : Number(m.staleSinceMs),
          // The rule checks fail closed by (federation/freshness.ts): a member not heard since start is stale too.
          stale: budgetMs > 0 && judgeFreshness({ nodeId: m.self ? 'self' : hex(m.nodeId), signedAtMs: headAgeMs === null ? undefined : nowMs - headAgeMs }, 'self', nowMs, budgetMs).state !== 'fresh',
          equivocated: m.equivocated,
          self: m.self,
        };
      });
      const summary = {
        nodeId: hex(reply.nodeId),
        city: reply.city,
        allianceId: hex(reply.allianceId),
        uptimeMs: Number(reply.uptimeMs),
        entriesStored: Number(reply.entriesStored),
        storeBytes: Number(reply.storeBytes),
        ingestEntriesPerSecond: reply.ingestEntriesPerSecond,
        freshnessBudgetMs: budgetMs,
        linkTimeoutMs: Number(reply.linkTimeoutMs),
        staleMembers: members.filter((m) => m.stale).length,
        freshnessBreaches: members.reduce((sum, m) => sum + m.freshnessBreaches, 0),
        members,
      };
      if (args.values.json) {
        printJson(io, summary);
        return exitOk;
      }
      const rows = members.map((m) => [
        m.city || '?',
        m.nodeId.slice(0, nodeIdPrefixChars),
        m.self ? '-' : `${m.connected ? 'connected' : 'DOWN'}, ${m.lastContactMs === null ? 'never heard' : `${formatDuration(Math.max(0, nowMs - m.lastContactMs))} ago`}`,
        `${m.storedSeq} / ${m.knownSeq}${m.behindBy > 0 ? ` (behind by ${m.behindBy})` : ''}`,
        m.behindBy === 0 ? '-' : `${m.behindBy} for ${formatDuration(m.lagMs)}`,
        m.headAgeMs === null ? 'never heard' : formatDuration(m.headAgeMs),
        String(m.freshnessBreaches),
        [
          m.self ? 'self' : '',
          m.stale ? `STALE${m.staleSinceMs === null ? '' : ` since ${formatTime(m.staleSinceMs)}`}` : '',
          m.equivocated ? 'EQUIVOCATED' : '',
        ].filter(Boolean).join(', '),
      ]);
      const header = ['city', 'node id', 'link', 'stored / known', 'lag', 'head age', 'breaches', 'flags'];
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd();
      io.stdout(
        [
          `${reply.city} node ${summary.nodeId.slice(0, nodeIdPrefixChars)}, alliance ${summary.allianceId.slice(0, nodeIdPrefixChars)}, ` +
            `up ${formatDuration(summary.uptimeMs)}, ${reply.entriesStored} entries stored, ${formatBytes(summary.storeBytes)} on disk, ` +
            `ingesting ${summary.ingestEntriesPerSecond.toFixed(1)} entries/s (last minute)`,
          `freshness budget ${formatDuration(budgetMs)}: ${summary.staleMembers} member(s) stale now, ${summary.freshnessBreaches} breach(es) since start; ` +
            `link timeout ${formatDuration(summary.linkTimeoutMs)}`,
          '',
          line(header),
          ...rows.map(line),
          '',
        ].join('\n'),
      );
      return exitOk;
    });
  },
};

const health: Command = {
  path: ['node', 'health'],
  summary: "Check a node's gRPC health (grpc.health.v1): exit 0 when it is serving",
  usage: [
    '[--node HOST:PORT] [--service NAME] [--timeout-ms MS]',
    '',
    `  --node HOST:PORT   the node's client API address (as for node status)`,
    '  --service NAME     a service, e.g. tongxing.api.v1.NodeService (default: the node as a whole)',
    '  --timeout-ms MS    deadline of the check (default 3000)',
    '',
    'What a container HEALTHCHECK or a supervisor runs. grpc_health_probe and Kubernetes gRPC probes',
    'ask the same service. Prints the status (SERVING, NOT_SERVING while the node stops, or why the',
    'call failed).',
    '',
    'Exit: 0 SERVING, 1 anything else, 2 bad usage.',
  ].join('\n'),
  options: { node: { type: 'string' }, credential: { type: 'string' }, service: { type: 'string' }, 'timeout-ms': { type: 'string' } },
  async run(args, io) {
    const timeout = optional(args, 'timeout-ms') ?? '3000';
    const timeoutMs = Number(timeout);
    if (!/^\d+$/.test(timeout) || timeoutMs < 1 || timeoutMs > 60_000) throw new UsageError(`--timeout-ms must be an integer from 1 to 60000; got ${JSON.stringify(timeout)}`);
    // The client API takes mutual TLS only: the check presents the credential, as any caller does.
    const { address, options } = nodeConnection(args);
    const channel = apiChannel(address, options);
    const answer = await checkHealth(address, optional(args, 'service') ?? '', { timeoutMs, credentials: channel.credentials, channelOptions: channel.options });
    io.stdout(`${answer}\n`);
    return answer === 'SERVING' ? exitOk : exitNegative;
  },
};

export const statusCommands: Command[] = [status, health];
