export function instrument(): undefined;
export function uninstrument(): void;
/** `url.full` as the conventions want it: no credentials, secret query values redacted. */
export function sanitizeUrl(raw: string): string;
export const CLIENT_INSTRUMENTATION: "fivelens.http.client";
export const SERVER_INSTRUMENTATION: "fivelens.http.server";
