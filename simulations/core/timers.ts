// Per-node virtual timers and clock: the shape of setTimeout/clearTimeout/
// setInterval/Date.now that pure protocol code is given, backed by the shared
// Scheduler. One instance per simulated node, so the harness can pause the
// node (a GC pause, a stopped VM) or crash it (every timer is forgotten).
//
// Contracts:
// - A timeout set at virtual time t with delay d fires at t + d (d < 0 counts as 0),
//   in (time, insertion) order with every other event of the simulation.
// - An interval fires at t + d, t + 2d, ... (no drift) until cleared.
// - While paused, due timers do not fire; on resume each one due fires once,
//   in the order it came due (an interval then continues from the resume time).
// - After clearAll() (a crash) no callback set before it ever fires.
// - A callback may be async; its rejection fails the run (Scheduler.fail).

import { assert } from '../../federation/errors.js';
import type { EventHandle, Scheduler } from './scheduler.js';

export type TimerId = number;

export interface VirtualTimersInit {
  /** Added to the scheduler's time by nowMs(): an epoch (virtual 0 = this wall time) plus this node's clock skew. */
  readonly clockOffsetMs?: number;
}

interface TimerState {
  readonly id: TimerId;
  /** May be async: a rejection fails the run (Scheduler.watch). */
  readonly callback: () => unknown;
  /** 0 for a timeout. */
  readonly intervalMs: number;
  handle: EventHandle;
  dueMs: number;
}

export class VirtualTimers {
  /** May be changed at run time to model clock steps (NTP corrections, a wrong clock). */
  clockOffsetMs: number;

  private readonly timers = new Map<TimerId, TimerState>();
  private nextId = 1;
  private paused = false;
  private readonly overdue: TimerState[] = [];
  private readonly fireBound = (timer: TimerState): void => this.fire(timer);

  constructor(
    private readonly scheduler: Scheduler,
    init: VirtualTimersInit = {},
  ) {
    this.clockOffsetMs = init.clockOffsetMs ?? 0;
  }

  /** This node's wall clock in ms: virtual time plus its offset (fits federation's Clock). */
  nowMs(): number {
    return this.scheduler.now + this.clockOffsetMs;
  }

  setTimeout(callback: () => unknown, delayMs: number): TimerId {
    return this.add(callback, Math.max(0, delayMs), 0);
  }

  clearTimeout(id: TimerId | undefined): void {
    this.clear(id);
  }

  setInterval(callback: () => unknown, intervalMs: number): TimerId {
    assert(intervalMs > 0, `interval must be > 0 ms, got ${intervalMs}`);
    return this.add(callback, intervalMs, intervalMs);
  }

  clearInterval(id: TimerId | undefined): void {
    this.clear(id);
  }

  /** Timers set and not yet fired or cleared (intervals count until cleared). */
  get active(): number {
    return this.timers.size;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  pause(): void {
    this.paused = true;
  }

  /** Fires every timer that came due while paused, now, in due order. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const due = this.overdue.splice(0);
    for (const timer of due) {
      if (this.timers.get(timer.id) !== timer) continue; // cleared while paused
      timer.dueMs = this.scheduler.now;
      timer.handle = this.scheduler.at(this.scheduler.now, this.fireBound, timer);
    }
  }

  /** Forgets every timer (the node crashed); the instance stays usable for the restarted node. */
  clearAll(): void {
    for (const timer of this.timers.values()) this.scheduler.cancel(timer.handle);
    this.timers.clear();
    this.overdue.length = 0;
    this.paused = false;
  }

  private add(callback: () => unknown, delayMs: number, intervalMs: number): TimerId {
    const id = this.nextId++;
    const dueMs = this.scheduler.now + delayMs;
    const timer: TimerState = { id, callback, intervalMs, dueMs, handle: 0 };
    timer.handle = this.scheduler.at(dueMs, this.fireBound, timer);
    this.timers.set(id, timer);
    return id;
  }

  private clear(id: TimerId | undefined): void {
    if (id === undefined) return;
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    this.scheduler.cancel(timer.handle);
    this.timers.delete(id);
  }

  private fire(timer: TimerState): void {
    if (this.timers.get(timer.id) !== timer) return;
    if (this.paused) {
      this.overdue.push(timer);
      return;
    }
    if (timer.intervalMs > 0) {
      timer.dueMs += timer.intervalMs;
      timer.handle = this.scheduler.at(timer.dueMs, this.fireBound, timer);
    } else {
      this.timers.delete(timer.id);
    }
    this.scheduler.watch(timer.callback());
  }
}
