// Hand-written: cockatiel has retries but no budget. This is Finagle's ratio budget as a token bucket:
// every request deposits `ratio` of a token, every retry spends one, so retries stay near `ratio` of traffic.
export interface RetryBudgetOptions {
  /** Retries allowed per request, e.g. 0.1 for about 10%. */
  ratio: number;
  /** Tokens a quiet dependency starts with and never exceeds, so a lone failure can still be retried. */
  reserve: number;
}

export class RetryBudget {
  private tokens: number;
  readonly options: RetryBudgetOptions;

  constructor(options: RetryBudgetOptions) {
    if (!(options.ratio > 0 && options.ratio <= 1)) throw new RangeError(`retry budget ratio must be in (0, 1], got ${options.ratio}`);
    this.options = options;
    this.tokens = options.reserve;
  }

  /** A first attempt: adds to the budget. */
  deposit() {
    this.tokens = Math.min(this.options.reserve, this.tokens + this.options.ratio);
  }

  /** A retry: allowed only if a whole token is left. */
  tryWithdraw(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  get available() {
    return this.tokens;
  }
}
