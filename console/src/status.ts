// Shapes of the node's answers the console reads (proto3 JSON: int64 as strings, bytes as base64).

export interface MemberStatus {
  nodeId: string; city: string; regionCode: string; storedSeq: string; knownSeq: string; headAgeMs: string; lastContactMs: string;
  equivocated: boolean; self: boolean; connected: boolean; lagMs: string; freshnessBreaches: number; staleSinceMs: string;
}
export interface NodeStatus {
  nodeId: string; city: string; members: MemberStatus[]; entriesStored: string; uptimeMs: string; ingestEntriesPerSecond: number;
  storeBytes: string; freshnessBudgetMs: string; linkTimeoutMs: string;
}
export interface GovernanceMember { nodeId: string; city: string; regionCode: string; roles: string[]; status: string; self: boolean; endpoints: string[] }
export interface ProposalInfo {
  hash: string; author: string; authorCity: string; epoch: string; action: string; summary: string; reason: string; state: string;
  approvals: string[]; needed: number; detail: string; openedEpoch: string;
}
export interface Governance { name: string; epoch: string; quorum: number; members: GovernanceMember[]; proposals: ProposalInfo[]; freshnessBudgetMs: string }

/** 1536 -> "1.5 KB" */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
