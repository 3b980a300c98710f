/**
 * One request in flight on a connection: its span, and what its end needs.
 */
export type Exchange = {
    span: any;
    method: string;
    progressToken: any;
    /**
     * the span is an agent framework's tool span (not ours to end)
     */
    borrowed?: boolean | undefined;
};
/**
 * Patches the MCP SDKs the app resolves: CommonJS copies when the app requires them (or now, if it
 * has), ES module copies now.
 * @returns {string | undefined} why it was skipped
 */
export function instrument(): string | undefined;
/**
 * For bundled apps: the SDK modules as imported, one or several (an array or an object of them):
 * 1.x `@modelcontextprotocol/sdk/shared/protocol.js` (or `.../client/index.js`,
 * `.../server/index.js`), 2.x `@modelcontextprotocol/client` and `@modelcontextprotocol/server`,
 * or their `Client` / `Server` / `Protocol` classes.
 * @param {any} modules
 * @returns {boolean} whether any was an MCP SDK module
 */
export function patchModule(modules: any): boolean;
export const INSTRUMENTATION: "fivelens.mcp";
