/**
 * A count per second over a sliding window of whole seconds: one bucket per
 * second, so memory is fixed (window / 1 s buckets) whatever the rate.
 */
export class RateWindow {
  readonly #buckets: number[];
  readonly #seconds: number[];
  readonly #startedMs: number;

  constructor(
    readonly windowMs: number,
    private readonly nowMs: () => number,
  ) {
    const size = Math.ceil(windowMs / 1000);
    this.#buckets = new Array<number>(size).fill(0);
    this.#seconds = new Array<number>(size).fill(-1);
    this.#startedMs = nowMs();
  }

  add(count: number): void {
    const second = Math.floor(this.nowMs() / 1000);
    const i = second % this.#buckets.length;
    if (this.#seconds[i] !== second) {
      this.#seconds[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i]! += count;
  }

  /** The count over the window (or since construction, when that is shorter) per second. */
  perSecond(): number {
    const now = this.nowMs();
    const second = Math.floor(now / 1000);
    const oldest = second - this.#buckets.length + 1;
    let total = 0;
    for (let i = 0; i < this.#buckets.length; i++) if (this.#seconds[i]! >= oldest) total += this.#buckets[i]!;
    const spanMs = Math.min(this.windowMs, Math.max(1000, now - this.#startedMs));
    return (total * 1000) / spanMs;
  }
}
