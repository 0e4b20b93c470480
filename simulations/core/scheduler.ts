// Discrete-event scheduler with a virtual clock in milliseconds.
//
// Contracts:
// - Events run in (time, insertion) order: two events at the same time run in
//   the order they were scheduled, so a run is a function of its inputs alone.
// - `now` never goes backwards; an event may not be scheduled in the past.
// - An event's callback runs synchronously inside step(); an exception from it
//   propagates out of step()/runUntil() and stops the run (bugs are loud).
//   Errors in async work reach the run through fail() (watch() wires a
//   returned promise to it): the runners throw the first one after the event
//   in which it was reported.
// - Async protocol code (Promises) must be driven with the *Async runners,
//   which drain the microtask queue after each event (or each instant), so a
//   continuation observes the virtual time of the event that started it.
//
// Events live in a binary heap over typed arrays; callbacks take one argument
// so hot paths (message delivery) can schedule a shared function plus a data
// object instead of allocating a closure per event.

import { AssertionError, assert } from '../../federation/errors.js';
import { Fnv1a64 } from '../../federation/testing/hash.js';

/** Opaque, cancellable; stale after the event ran or was cancelled. */
export type EventHandle = number;

/** When the async runners drain microtasks: after every event (exact), or once per distinct virtual time (faster). */
export type MicrotaskDrain = 'event' | 'instant';

export interface SchedulerInit {
  /** Mix every event's time into the trace hash (default true). */
  readonly traceEvents?: boolean;
}

const slotsMax = 1 << 24; // pending events at once; a handle is generation * slotsMax + slot
const capacityInitial = 1024;

type Callback = (arg: any) => unknown;

/** Resolves after Node has run every queued microtask (setImmediate runs after the microtask queue is empty). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Scheduler {
  /** Events run so far (cancelled events are not counted). */
  eventsProcessed = 0;
  /** The running trace; anything may mix a short record into it. */
  readonly trace = new Fnv1a64();

  private nowMs = 0;
  private failure: { readonly error: unknown } | undefined;
  private readonly traceEvents: boolean;
  private insertions = 0;
  private pendingCount = 0;
  private cancelledInHeap = 0;

  // heap of slots ordered by (heapTime, slotInsertion)
  private heapTime = new Float64Array(capacityInitial);
  private heapSlot = new Int32Array(capacityInitial);
  private heapSize = 0;

  // slot storage; a slot is free when slotCallback is undefined and it is not in the heap
  private slotCallback: Array<Callback | undefined> = [];
  private slotArg: unknown[] = [];
  private slotInsertion = new Float64Array(capacityInitial);
  private slotGeneration = new Uint32Array(capacityInitial);
  private freeSlots = new Int32Array(capacityInitial);
  private freeCount = 0;
  private slotCount = 0;

  constructor(init: SchedulerInit = {}) {
    this.traceEvents = init.traceEvents ?? true;
  }

  /** Virtual time in ms. */
  get now(): number {
    return this.nowMs;
  }

  /** Events scheduled and not yet run or cancelled. */
  get pending(): number {
    return this.pendingCount;
  }

  /** Hex digest of every traced record so far: equal seeds must give equal hashes. */
  traceHash(): string {
    return this.trace.hex();
  }

  /** Stops the run: the runners throw `error` (the first one reported) as soon as control returns to them. */
  fail(error: unknown): void {
    this.failure ??= { error };
  }

  /** If `result` is a promise (an async handler's return value), a rejection of it fails the run. */
  watch(result: unknown): void {
    if (result instanceof Promise) result.catch((error: unknown) => this.fail(error));
  }

  /** Runs `callback(arg)` at virtual time `timeMs` (>= now); an async callback's rejection fails the run. */
  at(timeMs: number, callback: () => unknown): EventHandle;
  at<A>(timeMs: number, callback: (arg: A) => unknown, arg: A): EventHandle;
  at(timeMs: number, callback: Callback, arg?: unknown): EventHandle {
    if (!(timeMs >= this.nowMs && timeMs < Infinity)) throw new AssertionError(`event time ${timeMs} ms is before now (${this.nowMs} ms) or not finite`);
    const slot = this.allocateSlot();
    this.slotCallback[slot] = callback;
    this.slotArg[slot] = arg;
    this.slotInsertion[slot] = this.insertions++;
    this.push(timeMs, slot);
    this.pendingCount++;
    return this.slotGeneration[slot]! * slotsMax + slot;
  }

  /** Runs `callback(arg)` `delayMs` (>= 0) after now. */
  after(delayMs: number, callback: () => unknown): EventHandle;
  after<A>(delayMs: number, callback: (arg: A) => unknown, arg: A): EventHandle;
  after(delayMs: number, callback: Callback, arg?: unknown): EventHandle {
    if (!(delayMs >= 0)) throw new AssertionError(`delay must be >= 0 ms, got ${delayMs}`);
    return this.at(this.nowMs + delayMs, callback, arg);
  }

  /** True if the event was pending and now will not run. */
  cancel(handle: EventHandle): boolean {
    const slot = handle % slotsMax;
    const generation = (handle - slot) / slotsMax;
    if (slot >= this.slotCount || this.slotGeneration[slot] !== generation || this.slotCallback[slot] === undefined) return false;
    this.slotCallback[slot] = undefined;
    this.slotArg[slot] = undefined;
    this.pendingCount--;
    this.cancelledInHeap++;
    if (this.cancelledInHeap > 4096 && this.cancelledInHeap * 2 > this.heapSize) this.compact();
    return true;
  }

  /** Time of the next pending event, or undefined when idle. */
  nextTime(): number | undefined {
    this.dropCancelledTop();
    return this.heapSize > 0 ? this.heapTime[0] : undefined;
  }

  /** Runs the next event, if any; returns whether one ran. */
  step(): boolean {
    this.throwFailure();
    this.dropCancelledTop();
    if (this.heapSize === 0) return false;
    this.runTop();
    this.throwFailure();
    return true;
  }

  /** Runs every event with time <= timeMs, then sets now = timeMs. Synchronous code only. */
  runUntil(timeMs: number): void {
    assert(timeMs >= this.nowMs, `runUntil(${timeMs}) is before now (${this.nowMs} ms)`);
    this.runThrough(timeMs);
    this.nowMs = timeMs;
  }

  /** Runs until no event is pending or the next is after maxTimeMs; returns true if idle. Synchronous code only. */
  runUntilIdle(maxTimeMs = Infinity): boolean {
    this.runThrough(maxTimeMs);
    return this.heapSize === 0;
  }

  private runThrough(limitMs: number): void {
    this.throwFailure();
    for (;;) {
      this.dropCancelledTop();
      if (this.heapSize === 0 || this.heapTime[0]! > limitMs) return;
      this.runTop();
      if (this.failure !== undefined) this.throwFailure();
    }
  }

  private throwFailure(): void {
    if (this.failure !== undefined) throw this.failure.error;
  }

  /** Pops the (live) top event and runs it. */
  private runTop(): void {
    const timeMs = this.heapTime[0]!;
    const slot = this.pop();
    const callback = this.slotCallback[slot]!;
    const arg = this.slotArg[slot];
    this.freeSlot(slot);
    this.pendingCount--;
    this.nowMs = timeMs;
    this.eventsProcessed++;
    if (this.traceEvents) this.trace.mixNumber(timeMs);
    const result = callback(arg);
    if (result !== undefined) this.watch(result);
  }

  /** runUntil for async code: microtasks queued by an event run before virtual time moves on. */
  async runUntilAsync(timeMs: number, drain: MicrotaskDrain = 'event'): Promise<void> {
    assert(timeMs >= this.nowMs, `runUntilAsync(${timeMs}) is before now (${this.nowMs} ms)`);
    await this.runAsync(timeMs, drain);
    this.nowMs = timeMs;
  }

  /** runUntilIdle for async code; returns true if idle. */
  async runUntilIdleAsync(maxTimeMs = Infinity, drain: MicrotaskDrain = 'event'): Promise<boolean> {
    await this.runAsync(maxTimeMs, drain);
    return this.nextTime() === undefined;
  }

  private async runAsync(limitMs: number, drain: MicrotaskDrain): Promise<void> {
    await drainMicrotasks(); // continuations of the caller's own setup
    this.throwFailure();
    for (;;) {
      this.dropCancelledTop();
      if (this.heapSize === 0 || this.heapTime[0]! > limitMs) return;
      this.runTop();
      if (drain === 'event') {
        await drainMicrotasks();
      } else {
        const following = this.nextTime();
        if (following === undefined || following > this.nowMs) await drainMicrotasks();
      }
      this.throwFailure();
    }
  }

  // --- slots ---

  private allocateSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount]!;
    const slot = this.slotCount++;
    if (slot >= slotsMax) throw new AssertionError(`more than ${slotsMax} pending events`);
    if (slot >= this.slotInsertion.length) {
      this.slotInsertion = grow(this.slotInsertion, Float64Array);
      this.slotGeneration = grow(this.slotGeneration, Uint32Array);
      this.freeSlots = grow(this.freeSlots, Int32Array);
    }
    this.slotCallback.push(undefined);
    this.slotArg.push(undefined);
    return slot;
  }

  private freeSlot(slot: number): void {
    this.slotCallback[slot] = undefined;
    this.slotArg[slot] = undefined;
    this.slotGeneration[slot] = (this.slotGeneration[slot]! + 1) % 0x2000_0000; // keeps handles < 2^53
    this.freeSlots[this.freeCount++] = slot;
  }

  private dropCancelledTop(): void {
    while (this.heapSize > 0 && this.slotCallback[this.heapSlot[0]!] === undefined) {
      this.freeSlot(this.pop());
      this.cancelledInHeap--;
    }
  }

  /** Removes every cancelled event from the heap and rebuilds it (O(n)). */
  private compact(): void {
    let kept = 0;
    for (let i = 0; i < this.heapSize; i++) {
      const slot = this.heapSlot[i]!;
      if (this.slotCallback[slot] === undefined) {
        this.freeSlot(slot);
      } else {
        this.heapSlot[kept] = slot;
        this.heapTime[kept] = this.heapTime[i]!;
        kept++;
      }
    }
    this.heapSize = kept;
    this.cancelledInHeap = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  // --- heap ---

  private before(timeA: number, slotA: number, timeB: number, slotB: number): boolean {
    return timeA < timeB || (timeA === timeB && this.slotInsertion[slotA]! < this.slotInsertion[slotB]!);
  }

  private push(timeMs: number, slot: number): void {
    if (this.heapSize === this.heapTime.length) {
      this.heapTime = grow(this.heapTime, Float64Array);
      this.heapSlot = grow(this.heapSlot, Int32Array);
    }
    const heapTime = this.heapTime;
    const heapSlot = this.heapSlot;
    let i = this.heapSize++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentTime = heapTime[parent]!;
      const parentSlot = heapSlot[parent]!;
      if (!this.before(timeMs, slot, parentTime, parentSlot)) break;
      heapTime[i] = parentTime;
      heapSlot[i] = parentSlot;
      i = parent;
    }
    heapTime[i] = timeMs;
    heapSlot[i] = slot;
  }

  /** Removes the top; returns its slot. */
  private pop(): number {
    const top = this.heapSlot[0]!;
    const last = --this.heapSize;
    if (last > 0) {
      this.heapTime[0] = this.heapTime[last]!;
      this.heapSlot[0] = this.heapSlot[last]!;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const heapTime = this.heapTime;
    const heapSlot = this.heapSlot;
    const size = this.heapSize;
    const time = heapTime[start]!;
    const slot = heapSlot[start]!;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      let childTime = heapTime[child]!;
      let childSlot = heapSlot[child]!;
      const right = child + 1;
      if (right < size) {
        const rightTime = heapTime[right]!;
        const rightSlot = heapSlot[right]!;
        if (this.before(rightTime, rightSlot, childTime, childSlot)) {
          child = right;
          childTime = rightTime;
          childSlot = rightSlot;
        }
      }
      if (!this.before(childTime, childSlot, time, slot)) break;
      heapTime[i] = childTime;
      heapSlot[i] = childSlot;
      i = child;
    }
    heapTime[i] = time;
    heapSlot[i] = slot;
  }
}

type TypedArray = Float64Array | Int32Array | Uint32Array;

function grow<T extends TypedArray>(array: T, Kind: new (length: number) => T): T {
  const bigger = new Kind(array.length * 2);
  bigger.set(array);
  return bigger;
}
