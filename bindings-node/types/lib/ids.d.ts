export function traceId(): string;
export function spanId(): string;
/** Milliseconds since the epoch, with sub-millisecond precision. */
export function now(): number;
/**
 * A user-given time (Date, epoch ms, or an OTel HrTime [seconds, nanos]) in epoch ms.
 * @param {any} t
 * @returns {number | undefined}
 */
export function toEpochMs(t: any): number | undefined;
