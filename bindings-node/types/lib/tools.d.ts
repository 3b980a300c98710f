/**
 * Options of `withTool`.
 */
export type ToolOptions = {
    /**
     * what the tool is: a local function (default), a tool of an MCP server, an HTTP API
     */
    kind?: "function" | "http" | "mcp" | undefined;
    /**
     * the MCP server's name (`kind: 'mcp'`) or the API's host (`kind: 'http'`)
     */
    server?: string | undefined;
    description?: string | undefined;
    /**
     * the call's arguments (content: kept only when capture is on)
     */
    arguments?: any;
};
/** One tool call crossing the boundary: the breaker's answer, and what goes on the span. */
export class Boundary {
    /**
     * Asks the breakers whether a call of `name` (of MCP server `server`) may go ahead.
     * @param {string} name
     * @param {string} [server]
     * @param {string} [kind] `function`, `mcp` or `http`
     */
    static admit(name: string, server?: string, kind?: string): Boundary;
    /**
     * @param {string} name
     * @param {string | undefined} server
     * @param {string} kind
     * @param {any} admission
     */
    constructor(name: string, server: string | undefined, kind: string, admission: any);
    name: string;
    server: string | undefined;
    kind: string;
    admission: any;
    ended: boolean;
    /** Taken by the span that represents the call (see integrations/langchain.js). */
    taken: boolean;
    /** Whether the call may be made (false only in `enforce` mode with the breaker open). */
    get allowed(): boolean;
    get rejected(): boolean;
    /** The degraded-mode tool error the model receives instead of the result. */
    get message(): any;
    error(): ToolUnavailableError;
    /** The span attributes known when the call starts. */
    attributes(): Record<string, any>;
    /** The call's span started: the admission's state changes become its events. @param {any} span */
    start(span: any): void;
    /**
     * How the call ended: feeds the breaker, marks a rejected call, sets the category of a failed
     * one, and puts the state changes on `span`. Returns the category (undefined when it succeeded).
     * @param {any} span
     * @param {{error?: any, errorType?: string, message?: string, statusCode?: number, payload?: boolean, failed?: boolean}} [outcome]
     * @returns {string | undefined}
     */
    finish(span: any, outcome?: {
        error?: any;
        errorType?: string;
        message?: string;
        statusCode?: number;
        payload?: boolean;
        failed?: boolean;
    }): string | undefined;
}
/**
 * Options of `withTool`.
 * @typedef {object} ToolOptions
 * @property {'function' | 'mcp' | 'http'} [kind] what the tool is: a local function (default), a tool of an MCP server, an HTTP API
 * @property {string} [server] the MCP server's name (`kind: 'mcp'`) or the API's host (`kind: 'http'`)
 * @property {string} [description]
 * @property {any} [arguments] the call's arguments (content: kept only when capture is on)
 */
/** What `withTool` hands its function: the call's span and what to record on it. */
export class ToolCall {
    /** @param {any} span @param {boolean} capture */
    constructor(span: any, capture: boolean);
    /** The call's span (null inside an outer boundary of the same tool). */
    span: any;
    _capture: boolean;
    /** @type {string | null} */
    _payloadError: string | null;
    /** @type {number | undefined} */
    _statusCode: number | undefined;
    _resultSet: boolean;
    /** The call's arguments (content). @param {any} value */
    setArguments(value: any): void;
    /** The call's result (content). @param {any} value */
    setResult(value: any): void;
    /** The call completed but its result reports an error (category `tool_error`). @param {string} [message] */
    setErrorResult(message?: string): void;
    /** The HTTP status code of the API the tool called (for the error category). @param {number} code */
    setStatusCode(code: number): void;
}
/** A tool call rejected by its open circuit breaker (`toolBreaker: 'enforce'`): the tool was not called; the message is the degraded-mode tool error for the model. */
export class ToolUnavailableError extends Error {
    /**
     * @param {string} message
     * @param {string} tool
     * @param {string | undefined} [server]
     */
    constructor(message: string, tool: string, server?: string | undefined);
    tool: string;
    server: string | undefined;
}
/** A model call refused by a loop or budget guard: the call was not made. */
export class GuardExceededError extends Error {
    /**
     * @param {string} message
     * @param {{kind: string, scope: string, limit: number, used: number}} info
     */
    constructor(message: string, info: {
        kind: string;
        scope: string;
        limit: number;
        used: number;
    });
    /** `iterations`, `tokens` or `cost` */
    kind: string;
    /** `trace` or `session` */
    scope: string;
    /** the limit (iterations, tokens or US dollars) */
    limit: number;
    /** what the trace or session had used */
    used: number;
}
/** A token or cost budget (per trace or per session) was reached. */
export class BudgetExceededError extends GuardExceededError {
    /** @param {string} message @param {any} info */
    constructor(message: string, info: any);
}
/** `maxAgentIterations` was reached. */
export class IterationLimitExceededError extends GuardExceededError {
    /** @param {string} message @param {any} info */
    constructor(message: string, info: any);
}
/** `error.type` of a call the breaker rejected. */
export const CIRCUIT_OPEN: "circuit_open";
/**
 * Before a model call: throws `BudgetExceededError` or `IterationLimitExceededError` when a guard's
 * limit is reached in the current trace or session, after marking the current span (the
 * `fivelens.guard.exceeded` event, and the keep flag so the tail sampler keeps the trace). One
 * cheap native call when no guard is set.
 */
export function checkGuards(): void;
/**
 * An agent iteration `n` started (its span is `span`): counted for `maxAgentIterations`.
 * @param {any} span
 * @param {number} n
 */
export function noteIteration(span: any, n: number): void;
/**
 * A tool call as a dependency: runs `fn` in an `execute_tool {name}` span (arguments and result
 * under the content policy, `fivelens.tool.kind`), with the tool metrics and the circuit breaker:
 * `withTool(name, fn)` or `withTool(name, options, fn)`. `fn` receives a `ToolCall`
 * (`setArguments`, `setResult`, `setErrorResult`, `setStatusCode`); what it returns (or resolves
 * to) is the call's result. With `toolBreaker: 'enforce'` a call whose breaker is open is not
 * made: `withTool` throws (or, for an async `fn`, rejects with) a `ToolUnavailableError` whose
 * message is the degraded-mode tool error to hand the model. Errors of `fn` pass unchanged.
 * @template T
 * @param {string} name
 * @param {ToolOptions | ((call: ToolCall) => T)} options
 * @param {(call: ToolCall) => T} [fn]
 * @returns {T}
 */
export function withTool<T>(name: string, options: ToolOptions | ((call: ToolCall) => T), fn?: (call: ToolCall) => T): T;
