import { describe, expect, test } from 'vitest';
import { CallTimeoutError, Network, type CallResult, type LinkConfig } from './network.js';
import { Prng } from '../../federation/testing/prng.js';
import { Scheduler } from './scheduler.js';

interface Received {
  readonly from: string;
  readonly to: string;
  readonly payload: number;
  readonly atMs: number;
}

function setup(seed: string, nodes: readonly string[], linkConfig?: Partial<LinkConfig>) {
  console.log(`seed ${seed}`);
  const scheduler = new Scheduler();
  const network = new Network<number>({ scheduler, rng: new Prng(seed).fork('network'), linkConfig });
  const received: Received[] = [];
  for (const node of nodes) {
    network.attach(node, (from, payload) => received.push({ from, to: node, payload, atMs: scheduler.now }));
  }
  return { scheduler, network, received };
}

describe('Network', () => {
  test('latency stays within the configured bounds and messages reorder', () => {
    const { scheduler, network, received } = setup('latency', ['a', 'b']);
    for (let i = 0; i < 2000; i++) scheduler.at(i * 0.5, () => network.send('a', 'b', i, 100));
    const sentAt = (i: number): number => i * 0.5;
    scheduler.runUntilIdle();
    expect(received).toHaveLength(2000);
    const latencies = received.map((r) => r.atMs - sentAt(r.payload));
    expect(Math.min(...latencies)).toBeGreaterThanOrEqual(20);
    expect(Math.max(...latencies)).toBeLessThanOrEqual(60);
    const payloads = received.map((r) => r.payload);
    expect(payloads).not.toEqual([...payloads].sort((x, y) => x - y)); // reordered
    expect(network.counters('a')).toMatchObject({ messagesSent: 2000, bytesSent: 200_000 });
    expect(network.counters('b')).toMatchObject({ messagesReceived: 2000, bytesReceived: 200_000 });
  });

  test('loss rate is near the configured probability', () => {
    const p = 0.1;
    const n = 20_000;
    const { scheduler, network, received } = setup('loss', ['a', 'b'], { lossProbability: p });
    for (let i = 0; i < n; i++) network.send('a', 'b', i, 10);
    scheduler.runUntilIdle();
    const lost = n - received.length;
    // 5 standard deviations of a binomial(n, p)
    expect(Math.abs(lost - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    expect(network.drops.loss).toBe(lost);
    expect(network.counters('a').messagesDroppedOutbound).toBe(lost);
    expect(network.counters('b').messagesDroppedInbound).toBe(lost);
  });

  test('duplication delivers a second copy at about the configured rate', () => {
    const n = 10_000;
    const { scheduler, network, received } = setup('duplicate', ['a', 'b'], { duplicateProbability: 0.05 });
    for (let i = 0; i < n; i++) network.send('a', 'b', i, 10);
    scheduler.runUntilIdle();
    expect(received.length).toBe(n + network.messagesDuplicated);
    expect(network.messagesDuplicated).toBeGreaterThan(400);
    expect(network.messagesDuplicated).toBeLessThan(600);
    expect(new Set(received.map((r) => r.payload)).size).toBe(n);
  });

  test('a partition blocks across groups, in flight too; heal restores', () => {
    const { scheduler, network, received } = setup('partition', ['a', 'b', 'c', 'd']);
    network.send('a', 'c', 0, 1); // in flight when the partition starts
    scheduler.runUntil(5);
    network.partition(['a', 'b'], ['c', 'd']);
    expect(network.connected('a', 'b')).toBe(true);
    expect(network.connected('a', 'c')).toBe(false);
    network.send('a', 'b', 1, 1);
    network.send('a', 'c', 2, 1);
    network.send('d', 'b', 3, 1);
    network.send('d', 'c', 4, 1);
    scheduler.runUntil(100);
    expect(received.map((r) => r.payload).sort()).toEqual([1, 4]);
    expect(network.drops.partition).toBe(3);
    network.heal();
    network.send('a', 'c', 5, 1);
    network.send('d', 'b', 6, 1);
    scheduler.runUntilIdle();
    expect(received.map((r) => r.payload).sort()).toEqual([1, 4, 5, 6]);
  });

  test('nodes left out of every group form their own side; isolate cuts one node', () => {
    const { scheduler, network, received } = setup('isolate', ['a', 'b', 'c']);
    network.partition(['a']);
    expect(network.connected('b', 'c')).toBe(true);
    expect(network.connected('a', 'b')).toBe(false);
    network.heal();
    network.isolate('b');
    network.send('a', 'b', 1, 1);
    network.send('b', 'c', 2, 1);
    network.send('a', 'c', 3, 1);
    scheduler.runUntilIdle();
    expect(received.map((r) => r.payload)).toEqual([3]);
  });

  test('an asymmetric cut blocks one direction only', () => {
    const { scheduler, network, received } = setup('cut', ['a', 'b']);
    network.cut('a', 'b');
    network.send('a', 'b', 1, 1);
    network.send('b', 'a', 2, 1);
    scheduler.runUntilIdle();
    expect(received.map((r) => `${r.from}->${r.to}`)).toEqual(['b->a']);
    network.uncut('a', 'b');
    network.send('a', 'b', 3, 1);
    scheduler.runUntilIdle();
    expect(received.map((r) => r.payload)).toEqual([2, 3]);
  });

  test('a paused node queues what arrives and gets it in order on resume', () => {
    const { scheduler, network, received } = setup('pause', ['a', 'b'], { latencyMs: { kind: 'constant', value: 10 } });
    network.pause('b');
    for (let i = 0; i < 5; i++) scheduler.at(i, () => network.send('a', 'b', i, 1));
    scheduler.runUntil(1000);
    expect(received).toEqual([]);
    network.resume('b');
    scheduler.runUntilIdle();
    expect(received.map((r) => [r.payload, r.atMs])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 1000]));
    // pause with a duration resumes by itself
    network.pause('b', 50);
    network.send('a', 'b', 9, 1);
    scheduler.runUntilIdle();
    expect(received.at(-1)).toEqual({ from: 'a', to: 'b', payload: 9, atMs: 1050 });
    expect(network.status('b')).toBe('up');
  });

  test('a crashed node loses queued and in-flight messages, even after a quick restart', () => {
    const { scheduler, network, received } = setup('crash', ['a', 'b'], { latencyMs: { kind: 'constant', value: 10 } });
    network.send('a', 'b', 1, 7); // in flight across the crash
    scheduler.runUntil(5);
    network.crash('b');
    expect(network.status('b')).toBe('down');
    network.send('a', 'b', 2, 7); // to a down node
    network.send('b', 'a', 3, 7); // from a down node
    scheduler.runUntil(8);
    const afterRestart: number[] = [];
    network.attach('b', (_from, payload) => afterRestart.push(payload));
    network.send('a', 'b', 4, 7);
    scheduler.runUntilIdle();
    expect(received).toEqual([]);
    expect(afterRestart).toEqual([4]);
    expect(network.drops).toMatchObject({ receiverDown: 2, senderDown: 1 });
    expect(network.counters('b')).toMatchObject({ messagesDroppedInbound: 2, bytesDroppedInbound: 14, messagesReceived: 1 });
  });

  test('finite bandwidth adds serialisation delay, first in first out per link', () => {
    const { scheduler, network, received } = setup('bandwidth', ['a', 'b', 'c'], { latencyMs: { kind: 'constant', value: 20 } });
    network.configureLink('a', 'b', { bandwidthBytesPerMs: 1000 }); // 1 MB/s
    network.send('a', 'b', 1, 10_000); // 10 ms on the wire
    network.send('a', 'b', 2, 5_000); // waits for the first: leaves at 15 ms
    network.send('a', 'c', 3, 10_000); // other link, unlimited
    scheduler.runUntilIdle();
    expect(received.map((r) => [r.payload, r.atMs])).toEqual([
      [3, 20],
      [1, 30],
      [2, 35],
    ]);
  });

  test('timeQuantumMs rounds delivery times up to its multiple', () => {
    const scheduler = new Scheduler();
    const network = new Network<number>({ scheduler, rng: new Prng('quantum').fork('network'), timeQuantumMs: 5 });
    const times: number[] = [];
    network.attach('a', () => {});
    network.attach('b', () => times.push(scheduler.now));
    for (let i = 0; i < 200; i++) network.send('a', 'b', i, 1);
    scheduler.runUntilIdle();
    expect(times.filter((t) => t % 5 !== 0 || t < 20 || t > 60)).toEqual([]);
  });

  test('link configuration precedence: default < node < link', () => {
    const { network } = setup('config', ['a', 'b', 'c']);
    network.configureDefault({ lossProbability: 0.01 });
    network.configureNode('b', { lossProbability: 0.2, latencyMs: { kind: 'constant', value: 300 } });
    network.configureLink('a', 'b', { lossProbability: 0.5 });
    expect(network.linkConfig('a', 'c').lossProbability).toBe(0.01);
    expect(network.linkConfig('c', 'b')).toMatchObject({ lossProbability: 0.2, latencyMs: { kind: 'constant', value: 300 } });
    expect(network.linkConfig('a', 'b')).toMatchObject({ lossProbability: 0.5, latencyMs: { kind: 'constant', value: 300 } });
    network.configureNode('b', undefined);
    expect(network.linkConfig('c', 'b').lossProbability).toBe(0.01);
  });

  test('call: response, timeout, late response, crashed caller', () => {
    const scheduler = new Scheduler();
    const network = new Network<string>({ scheduler, rng: new Prng('call').fork('network'), linkConfig: { latencyMs: { kind: 'constant', value: 10 } } });
    network.attach('client', () => {});
    network.attach('server', () => {}, (from, request, reply) => {
      if (request === 'slow') scheduler.after(100, () => reply(`late ${request}`, 5));
      else reply(`echo ${request} from ${from}`, 5);
    });
    const results: Array<[CallResult<string>, number]> = [];
    const record = (result: CallResult<string>): void => void results.push([result, scheduler.now]);
    network.call('client', 'server', 'hi', 2, 50, record);
    network.call('client', 'server', 'slow', 2, 50, record);
    scheduler.runUntilIdle();
    expect(results).toEqual([
      [{ ok: true, response: 'echo hi from client', bytes: 5 }, 20],
      [{ ok: false, reason: 'timeout' }, 50],
    ]);
    expect(network.callsTimedOut).toBe(1);
    expect(network.responsesLate).toBe(1);

    network.call('client', 'server', 'hi', 2, 50, record);
    scheduler.runUntil(scheduler.now + 5);
    network.crash('client');
    scheduler.runUntilIdle();
    expect(results).toHaveLength(2); // never called back
  });

  test('request: a Promise in virtual time, rejecting with CallTimeoutError', async () => {
    const scheduler = new Scheduler();
    const network = new Network<string>({ scheduler, rng: new Prng('request').fork('network') });
    network.attach('client', () => {});
    network.attach('server', () => {}, (_from, request, reply) => reply(request.toUpperCase(), 1));
    const outcomes: string[] = [];
    const client = async (): Promise<void> => {
      outcomes.push(`${await network.request('client', 'server', 'one', 1, 1000)}@${scheduler.now > 0}`);
      network.cut('server', 'client');
      try {
        await network.request('client', 'server', 'two', 1, 1000);
      } catch (error) {
        expect(error).toBeInstanceOf(CallTimeoutError);
        outcomes.push((error as Error).name);
      }
    };
    scheduler.at(0, () => void client());
    await scheduler.runUntilIdleAsync();
    expect(outcomes).toEqual(['ONE@true', 'CallTimeoutError']);
  });

  test('a request to a node without a request handler is dropped and times out', () => {
    const { scheduler, network } = setup('no-request-handler', ['a', 'b']);
    const results: boolean[] = [];
    network.call('a', 'b', 1, 1, 200, (result) => results.push(result.ok));
    scheduler.runUntilIdle();
    expect(results).toEqual([false]);
    expect(network.drops.noRequestHandler).toBe(1);
  });

  test('unknown nodes and double attach are bugs', () => {
    const { network } = setup('bugs', ['a']);
    expect(() => network.send('a', 'nobody', 1, 1)).toThrow(/unknown node/);
    expect(() => network.attach('a', () => {})).toThrow(/already up/);
  });
});
