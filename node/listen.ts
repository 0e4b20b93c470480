import { TongxingError } from '../federation/errors.js';

/** host:port ('[::1]:7403' for IPv6) as node's net listen() takes them; port 0 picks a free one. */
export function parseListen(listen: string, what: string): { host: string; port: number } {
  const match = /^\[?([^\]]*)\]?:(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new TongxingError(`${what}: "${listen}" is not host:port`);
  return { host: match[1]!, port };
}
