/** @returns {any} the addon, or null */
export function load(): any;
/** The addon's file name for this platform: `fivelens.<platform>-<arch>[-gnu|-musl].node`. */
export function addonFileName(): string;
/** The JS <-> native batch format version this file speaks (see `API_VERSION` in src/lib.rs). */
export const API_VERSION: 1;
