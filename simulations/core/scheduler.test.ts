import { describe, expect, test } from 'vitest';
import { Prng } from '../../federation/testing/prng.js';
import { Scheduler } from './scheduler.js';
import { VirtualTimers } from './timers.js';

describe('Scheduler', () => {
  test('runs events in time order and advances now to each event time', () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    scheduler.at(30, () => log.push(`c@${scheduler.now}`));
    scheduler.at(10, () => log.push(`a@${scheduler.now}`));
    scheduler.after(20, () => log.push(`b@${scheduler.now}`));
    expect(scheduler.pending).toBe(3);
    scheduler.runUntilIdle();
    expect(log).toEqual(['a@10', 'b@20', 'c@30']);
    expect(scheduler.now).toBe(30);
    expect(scheduler.eventsProcessed).toBe(3);
    expect(scheduler.pending).toBe(0);
  });

  test('ties run in insertion order, including events scheduled by events', () => {
    const scheduler = new Scheduler();
    const log: number[] = [];
    for (let i = 0; i < 100; i++) scheduler.at(5, (n) => log.push(n), i);
    scheduler.at(5, () => scheduler.after(0, () => log.push(1000)));
    scheduler.at(5, () => log.push(100));
    scheduler.runUntilIdle();
    expect(log).toEqual([...Array.from({ length: 101 }, (_, i) => i), 1000]);
  });

  test('random schedules come out sorted by (time, insertion)', () => {
    const seed = 'scheduler-order';
    console.log(`seed ${seed}`);
    const rng = new Prng(seed);
    const scheduler = new Scheduler();
    const fired: Array<[number, number]> = [];
    const expected: Array<[number, number]> = [];
    for (let i = 0; i < 5000; i++) {
      const time = rng.int(0, 200);
      expected.push([time, i]);
      scheduler.at(time, (n) => fired.push([scheduler.now, n]), i);
    }
    // cancel a random third
    const handles: number[] = [];
    for (let i = 0; i < 3000; i++) handles.push(scheduler.at(rng.int(0, 200), () => fired.push([-1, -1])));
    expect(handles.filter((handle) => !scheduler.cancel(handle))).toEqual([]);
    scheduler.runUntilIdle();
    expected.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(fired).toEqual(expected);
  });

  test('cancel prevents the event; a stale handle is refused', () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const a = scheduler.at(10, () => log.push('a'));
    const b = scheduler.at(20, () => log.push('b'));
    expect(scheduler.cancel(a)).toBe(true);
    expect(scheduler.cancel(a)).toBe(false);
    expect(scheduler.pending).toBe(1);
    scheduler.runUntilIdle();
    expect(log).toEqual(['b']);
    expect(scheduler.cancel(b)).toBe(false); // already ran
    // the freed slot is reused; the old handle must not cancel the new event
    const c = scheduler.after(5, () => log.push('c'));
    expect(scheduler.cancel(b)).toBe(false);
    expect(c).not.toBe(b);
    scheduler.runUntilIdle();
    expect(log).toEqual(['b', 'c']);
    expect(scheduler.eventsProcessed).toBe(2);
  });

  test('mass cancellation compacts the heap without losing live events', () => {
    const scheduler = new Scheduler();
    const handles: number[] = [];
    let fired = 0;
    for (let i = 0; i < 20_000; i++) handles.push(scheduler.at(i, () => fired++));
    for (let i = 0; i < 20_000; i++) if (i % 10 !== 0) scheduler.cancel(handles[i]!);
    expect(scheduler.pending).toBe(2000);
    scheduler.runUntilIdle();
    expect(fired).toBe(2000);
  });

  test('runUntil runs events up to and including the time, then sets now', () => {
    const scheduler = new Scheduler();
    const log: number[] = [];
    for (const t of [5, 10, 15]) scheduler.at(t, () => log.push(t));
    scheduler.runUntil(10);
    expect(log).toEqual([5, 10]);
    expect(scheduler.now).toBe(10);
    scheduler.runUntil(12);
    expect(scheduler.now).toBe(12);
    expect(scheduler.nextTime()).toBe(15);
    expect(scheduler.runUntilIdle(14)).toBe(false);
    expect(scheduler.runUntilIdle(15)).toBe(true);
    expect(log).toEqual([5, 10, 15]);
  });

  test('step runs one event', () => {
    const scheduler = new Scheduler();
    const log: number[] = [];
    scheduler.at(1, () => log.push(1));
    scheduler.at(2, () => log.push(2));
    expect(scheduler.step()).toBe(true);
    expect(log).toEqual([1]);
    expect(scheduler.step()).toBe(true);
    expect(scheduler.step()).toBe(false);
  });

  test('refuses the past and non-finite times', () => {
    const scheduler = new Scheduler();
    scheduler.runUntil(100);
    expect(() => scheduler.at(99, () => {})).toThrow(/before now/);
    expect(() => scheduler.at(NaN, () => {})).toThrow();
    expect(() => scheduler.at(Infinity, () => {})).toThrow();
    expect(() => scheduler.after(-1, () => {})).toThrow();
  });

  test('an exception in an event stops the run', () => {
    const scheduler = new Scheduler();
    scheduler.at(1, () => {
      throw new Error('bug');
    });
    expect(() => scheduler.runUntilIdle()).toThrow('bug');
  });

  test('a rejected async handler fails the run after its event', async () => {
    const scheduler = new Scheduler();
    const timers = new VirtualTimers(scheduler);
    const ran: number[] = [];
    timers.setTimeout(async () => {
      await Promise.resolve();
      throw new Error('invariant broken');
    }, 10);
    scheduler.at(20, () => ran.push(20));
    await expect(scheduler.runUntilAsync(100)).rejects.toThrow('invariant broken');
    expect(ran).toEqual([]);
    expect(scheduler.now).toBe(10);
    expect(() => scheduler.runUntilIdle()).toThrow('invariant broken'); // stays failed
  });

  test('async runners let continuations run at the virtual time of their event', async () => {
    for (const drain of ['event', 'instant'] as const) {
      const scheduler = new Scheduler();
      const log: string[] = [];
      const work = async (name: string): Promise<void> => {
        log.push(`${name} start@${scheduler.now}`);
        for (let i = 0; i < 5; i++) await Promise.resolve();
        log.push(`${name} end@${scheduler.now}`);
        scheduler.after(1, () => log.push(`${name} next@${scheduler.now}`));
      };
      scheduler.at(10, () => void work('a'));
      scheduler.at(20, () => void work('b'));
      await scheduler.runUntilAsync(100, drain);
      expect(log, drain).toEqual(['a start@10', 'a end@10', 'a next@11', 'b start@20', 'b end@20', 'b next@21']);
      expect(scheduler.now).toBe(100);
    }
  });
});

describe('VirtualTimers', () => {
  test('setTimeout, clearTimeout, setInterval without drift, clock offset', () => {
    const scheduler = new Scheduler();
    const timers = new VirtualTimers(scheduler, { clockOffsetMs: 1_700_000_000_000 });
    const log: string[] = [];
    timers.setTimeout(() => log.push(`t@${scheduler.now}`), 25);
    const cleared = timers.setTimeout(() => log.push('never'), 10);
    timers.clearTimeout(cleared);
    const interval = timers.setInterval(() => log.push(`i@${scheduler.now}`), 10);
    scheduler.runUntil(35);
    timers.clearInterval(interval);
    scheduler.runUntilIdle();
    expect(log).toEqual(['i@10', 'i@20', 't@25', 'i@30']);
    expect(timers.nowMs()).toBe(1_700_000_000_035);
    expect(timers.active).toBe(0);
  });

  test('pause defers due timers to resume, once each; clearAll forgets everything', () => {
    const scheduler = new Scheduler();
    const timers = new VirtualTimers(scheduler);
    const log: string[] = [];
    timers.setInterval(() => log.push(`i@${scheduler.now}`), 10);
    timers.setTimeout(() => log.push(`t@${scheduler.now}`), 15);
    scheduler.runUntil(12);
    timers.pause();
    scheduler.runUntil(50);
    expect(log).toEqual(['i@10']);
    timers.resume();
    scheduler.runUntil(65);
    expect(log).toEqual(['i@10', 't@50', 'i@50', 'i@60']); // due order: the timeout at 15, then the interval at 20
    timers.clearAll();
    timers.setTimeout(() => log.push(`after-restart@${scheduler.now}`), 1);
    scheduler.runUntilIdle();
    expect(log.slice(4)).toEqual(['after-restart@66']);
  });
});
