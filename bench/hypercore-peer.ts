import { createConnection, createServer } from 'node:net';
import Hypercore from 'hypercore';

// One side of the Hypercore comparison, as its own process:
//   writer DIR COUNT BYTES  -> appends COUNT blocks, serves on a loopback port, prints {"port","key"}
//   reader DIR PORT KEY COUNT -> replicates all blocks, prints {"ms"}

const [role, dir, ...rest] = process.argv.slice(2);

if (role === 'writer') {
  const [count, bytes] = rest.map(Number) as [number, number];
  const core = new Hypercore(dir!);
  await core.ready();
  const block = Buffer.alloc(bytes, 0x61);
  for (let i = 0; i < count; i += 1000) await core.append(Array.from({ length: Math.min(1000, count - i) }, () => block));
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.pipe(core.replicate(false)).pipe(socket);
  });
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port, key: core.key.toString('hex') }) + '\n');
  });
  process.on('SIGTERM', () => void core.close().finally(() => process.exit(0)));
} else if (role === 'reader') {
  const [port, key, count] = rest as [string, string, string];
  const core = new Hypercore(dir!, Buffer.from(key, 'hex'));
  await core.ready();
  const socket = createConnection(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  const start = performance.now();
  socket.pipe(core.replicate(true)).pipe(socket);
  await core.download({ start: 0, end: Number(count) }).done();
  const ms = performance.now() - start;
  process.stdout.write(JSON.stringify({ ms }) + '\n');
  socket.destroy();
  await core.close();
  process.exit(0);
} else {
  process.stderr.write('usage: hypercore-peer writer DIR COUNT BYTES | reader DIR PORT KEY COUNT\n');
  process.exit(2);
}
