// Hand-written: cockatiel has retries but no budget. This is Finagle's ratio budget as a token bucket:
// every request deposits `ratio` of a token, every retry spends one, so retries stay near `ratio` of traffic.
export interface RetryBudgetOptions {
  /** Retries allowed per request, e.g. 0.1 for about 10%. */
  ratio: number;
  /** Tokens a quiet dependency starts with and never exceeds, so a lone failure can still be retried. */
  reserve: number;
}

/** Kept in thousandths of a token, so that ten deposits of 0.1 make exactly one. */
const scale = 1000;

export class RetryBudget {
  private milliTokens: number;
  private readonly perRequest: number;
  private readonly cap: number;

  constructor(options: RetryBudgetOptions) {
    if (!(options.ratio > 0 && options.ratio <= 1)) throw new RangeError(`retry budget ratio must be in (0, 1], got ${options.ratio}`);
    if (!(options.reserve >= 1)) throw new RangeError(`retry budget reserve must be at least 1, got ${options.reserve}`);
    this.perRequest = Math.round(options.ratio * scale);
    this.cap = Math.round(options.reserve * scale);
    this.milliTokens = this.cap;
  }

  /** A first attempt: adds to the budget. */
  deposit() {
    this.milliTokens = Math.min(this.cap, this.milliTokens + this.perRequest);
  }

  /** A retry: allowed only if a whole token is left. */
  tryWithdraw(): boolean {
    if (this.milliTokens < scale) return false;
    this.milliTokens -= scale;
    return true;
  }

  get available() {
    return this.milliTokens / scale;
  }
}
