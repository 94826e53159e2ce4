// wire.mjs — small HTTP helpers shared by the fake-llm protocols. TEST INFRASTRUCTURE.
import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** n random base-62 characters (ids look like the providers' own; they are not deterministic). */
export function randomId(n) {
  let s = '';
  for (const b of randomBytes(n)) s += BASE62[b % 62];
  return s;
}

/** One server-sent event: optional `event:` line, one `data:` line, a blank line. */
export function sseEvent(data, event) {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  return `${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`;
}

/** The first half of a JSON text: never valid JSON for an object or array. */
export function halfJson(text) {
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

/** A server-sent event with the right framing whose data is broken JSON. */
export function brokenSseEvent(data, event) {
  return sseEvent(halfJson(JSON.stringify(data)), event);
}

/** A request error to answer in the protocol's error shape. */
export class HttpError extends Error {
  constructor(status, message, extra = {}) {
    super(message);
    this.status = status;
    this.extra = extra;  // protocol-specific: {param, code, type, retryAfter, ...}
  }
}

/** Whether `v` is a whole number >= min. */
export const isCount = (v, min = 0) => Number.isInteger(v) && v >= min;
