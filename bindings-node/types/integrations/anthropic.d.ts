/**
 * Patches the SDK as the app resolves it: its CommonJS copy when the app requires it (or now, if
 * it has), and its ES module copy now (see `withEsm`).
 * @returns {string | undefined} why it was skipped
 */
export function instrument(): string | undefined;
/**
 * Wraps the classes reachable from the SDK's main export.
 * @param {any} mod the `@anthropic-ai/sdk` module (CommonJS exports or ES namespace) or its `Anthropic` class
 * @returns {boolean} whether the classes were found (false while the module is still loading)
 */
export function patchModule(mod: any): boolean;
export const INSTRUMENTATION: "fivelens.anthropic";
