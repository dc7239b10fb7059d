/**
 * An adaptive concurrency limit, after the gradient limit of Netflix's concurrency-limits: it shrinks while requests
 * take longer than `tolerance` times their no-load time, and grows by √limit while they do not, so that requests in
 * progress stay near what the machine serves without queueing inside it. Hand-written: no maintained JavaScript port
 * exists. Pure: fed with each admitted request's time, it keeps no clock.
 */
export interface GradientLimitOptions {
  /** Where the limit starts, and its ceiling. */
  max: number;
  min: number;
  /** Latency over the no-load latency tolerated before the limit shrinks. */
  tolerance?: number;
  /** Weight of each window's new estimate. */
  smoothing?: number;
  /** Requests averaged into one latency sample: one request's time is noise. */
  windowSamples?: number;
  /** Windows between two probes of the no-load latency (the machine's floor moves: other load, a breaker's fast answers). */
  probeEveryWindows?: number;
}

export class GradientLimit {
  readonly #min: number;
  readonly #max: number;
  readonly #tolerance: number;
  readonly #smoothing: number;
  readonly #windowSamples: number;
  readonly #probeEveryWindows: number;
  #limit: number;
  #noLoadMs = Infinity;
  #windowsToProbe: number;
  #sumMs = 0;
  #count = 0;
  #maxInFlight = 0;

  constructor({ max, min, tolerance = 1.5, smoothing = 0.2, windowSamples = 20, probeEveryWindows = 100 }: GradientLimitOptions) {
    if (!(min >= 1 && max >= min)) throw new RangeError(`a limit needs 1 ≤ min ≤ max, got min ${min}, max ${max}`);
    this.#min = min;
    this.#max = max;
    this.#tolerance = tolerance;
    this.#smoothing = smoothing;
    this.#windowSamples = windowSamples;
    this.#probeEveryWindows = probeEveryWindows;
    this.#limit = max;
    this.#windowsToProbe = probeEveryWindows;
  }

  /** Requests that may be in progress at once now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** The lowest window average seen since the last probe, in ms. */
  get noLoadMs(): number {
    return this.#noLoadMs;
  }

  /** One admitted request's time, and how many were in progress when it was admitted (itself included). */
  sample(latencyMs: number, inFlight: number): void {
    this.#sumMs += latencyMs;
    this.#maxInFlight = Math.max(this.#maxInFlight, inFlight);
    if (++this.#count < this.#windowSamples) return;
    const latency = this.#sumMs / this.#count;
    const busy = this.#maxInFlight * 2 >= this.#limit;
    this.#sumMs = this.#count = this.#maxInFlight = 0;
    if (--this.#windowsToProbe <= 0) {
      // Probe: drop to a low limit so that the next windows measure the no-load latency afresh.
      this.#windowsToProbe = this.#probeEveryWindows;
      this.#noLoadMs = Infinity;
      this.#limit = Math.max(this.#min, Math.min(this.#max, Math.sqrt(this.#max)));
      return;
    }
    this.#noLoadMs = Math.min(this.#noLoadMs, latency);
    if (!busy) {
      // A limit the traffic does not reach: latency says nothing about it, and the next surge (a slow dependency,
      // more clients) should not find it as low as the last overload left it. Back toward the ceiling.
      this.#limit = Math.min(this.#max, this.#limit + Math.sqrt(this.#limit));
      return;
    }
    const gradient = Math.max(0.5, Math.min(1, (this.#tolerance * this.#noLoadMs) / latency));
    const estimate = this.#limit * gradient + Math.sqrt(this.#limit);
    this.#limit = Math.max(this.#min, Math.min(this.#max, (1 - this.#smoothing) * this.#limit + this.#smoothing * estimate));
  }
}
