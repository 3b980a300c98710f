/**
 * Converts one attribute value; `undefined` means "skip" (null and undefined attributes).
 * @param {any} v
 * @returns {string | number | boolean | string[] | number[] | boolean[] | undefined}
 */
export function toAttribute(v: any): string | number | boolean | string[] | number[] | boolean[] | undefined;
/**
 * Cuts a string to at most `maxBytes` UTF-16 code units (the core then cuts to exact UTF-8
 * bytes); returns [value, truncated].
 * @param {any} v
 * @param {number} maxBytes
 * @returns {[any, boolean]}
 */
export function bound(v: any, maxBytes: number): [any, boolean];
/** @param {string} s */
export function wellFormed(s: string): any;
/** @param {any} v */
export function label(v: any): string;
