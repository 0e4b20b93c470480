// The simulation core: generic over the protocol (messages are opaque payloads with a size).
export { Fnv1a64, fnv1a64Hex } from '../../federation/testing/hash.js';
export { Prng, type Distribution, type Seed } from '../../federation/testing/prng.js';
export { Scheduler, type EventHandle, type MicrotaskDrain, type SchedulerInit } from './scheduler.js';
export { VirtualTimers, type TimerId, type VirtualTimersInit } from './timers.js';
export {
  CallTimeoutError,
  Network,
  linkConfigDefault,
  type CallResult,
  type DropReason,
  type LinkConfig,
  type MessageHandler,
  type NetworkInit,
  type NodeCounters,
  type NodeId,
  type NodeStatus,
  type Reply,
  type RequestHandler,
} from './network.js';
export { Mesh, meshParamsDefault, type MeshParams } from './mesh.js';
