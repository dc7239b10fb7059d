import type { RequestHandler, Response } from 'express';
import { ApiError } from '../errors.ts';
import { apiError } from '../contracts.ts';

/**
 * The edge stamps each request with an absolute deadline (epoch ms) and passes it on in this header,
 * so a service deep in the call chain can drop work that nobody is waiting for any more.
 */
export const deadlineHeader = 'x-request-deadline';

/** A deadline more than this far ahead is a client bug or an attack, not a real budget. */
const maxAheadMs = 60_000;

export class DeadlineExceeded extends ApiError {
  constructor(where: string) {
    super(503, 'deadline_exceeded', `the request's deadline passed ${where}; it was dropped rather than worked on`, { retryAfterSeconds: 1 });
  }
}

export const deadlineOf = (res: Response): number | undefined => res.locals.deadline as number | undefined;

export const remainingMs = (res: Response) => {
  const deadline = deadlineOf(res);
  return deadline === undefined ? Infinity : deadline - Date.now();
};

/** Throws if the request's deadline has passed: call before each costly step. */
export function checkDeadline(res: Response, where: string) {
  if (remainingMs(res) <= 0) throw new DeadlineExceeded(where);
}

/** At the edge: every request gets `budgetMs` from its arrival. */
export const stampDeadline =
  (budgetMs: number): RequestHandler =>
  (_req, res, next) => {
    res.locals.deadline = Date.now() + budgetMs;
    next();
  };

/** Inside: adopt the caller's deadline, reject a malformed one, drop the request if it has passed already. */
export const adoptDeadline =
  (onDrop: () => void): RequestHandler =>
  (req, res, next) => {
    const raw = req.get(deadlineHeader);
    if (raw === undefined) return next();
    const deadline = /^\d{1,15}$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(deadline) || deadline > Date.now() + maxAheadMs) {
      return next(apiError('invalid_deadline', `the ${deadlineHeader} header must be a time in epoch milliseconds at most ${maxAheadMs / 1000} s ahead`));
    }
    res.locals.deadline = deadline;
    if (deadline <= Date.now()) {
      onDrop();
      return next(new DeadlineExceeded('before it arrived'));
    }
    next();
  };
