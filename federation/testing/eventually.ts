/**
 * Polls `probe` until it answers something other than undefined or false, and
 * returns that. A probe that throws counts as "not yet" (a node that is
 * starting or restarting refuses calls for a moment); on timeout the last
 * error is part of the message. Tests wait on conditions, never on durations.
 */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
  }
}
