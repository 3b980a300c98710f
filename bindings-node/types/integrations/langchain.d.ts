/**
 * Patches LangChain (and LangGraph) as the app resolves them: the CommonJS copies when the app
 * requires them (or now, if it has), the ES module copies now (see `stainless.withEsm`).
 * @returns {string | undefined} why it was skipped
 */
export function instrument(): string | undefined;
/**
 * For bundled apps (where fivelens cannot find LangChain on disk): the modules as imported, one
 * or several (an array or an object of them): `@langchain/core/callbacks/manager` (required: it
 * is how runs are seen), `@langchain/core/language_models/chat_models` and `.../llms` (one span
 * per model call with the OpenAI and Anthropic SDKs), `@langchain/core/callbacks/promises`
 * (`flush()` waits for background callbacks), `@langchain/langgraph` (agent graphs).
 * @param {any} modules
 * @returns {boolean} whether any was a LangChain module
 */
export function patchModule(modules: any): boolean;
/**
 * The span a new span nests under, given the active one: the span of the LangChain run executing
 * now when the app has not opened a span of its own inside it; a slot is seen through.
 * @param {any} active
 * @returns {any}
 */
export function resolveActive(active: any): any;
/**
 * Called by a provider SDK call starting without an explicit parent: the chat-model run it
 * serves, if that run is open and the call is directly inside it (the SDK's span takes the run's
 * place and carries its id).
 * @returns {Record<string, any> | null}
 */
export function adopt(): Record<string, any> | null;
/**
 * The span of the tool run `name` executing now, the first time it is asked for: an MCP
 * `tools/call` of that tool made inside it adds the MCP attributes to this span instead of making
 * a second one (the MCP conventions' rule; see integrations/mcp.js). Null when no such tool run
 * is executing, when the app opened a span of its own inside it (that span is the parent), or when
 * an MCP call already took it.
 * @param {string} name
 * @returns {any}
 */
export function currentToolSpan(name: string): any;
/** Waits for LangChain's background callbacks, in every copy seen. */
export function awaitCallbacks(): Promise<void> | Promise<PromiseSettledResult<any>[]>;
export const INSTRUMENTATION: "fivelens.langchain";
/**
 * fivelens's LangChain callback handler, added to every callback manager. The methods take
 * LangChain's runtime argument order (which differs from its type declarations for
 * `handleChainStart`); each is synchronous, never throws, and returns nothing.
 */
export class FivelensCallbackHandler {
    name: string;
    lc_serializable: boolean;
    ignoreLLM: boolean;
    ignoreChain: boolean;
    ignoreAgent: boolean;
    ignoreRetriever: boolean;
    ignoreCustomEvent: boolean;
    raiseError: boolean;
    awaitHandlers: boolean;
    copy(): this;
    toJSON(): {
        lc: number;
        type: string;
        id: string[];
    };
    /** @param {any[]} a */
    handleChainStart(...a: any[]): void;
    /** @param {any} outputs @param {string} runId */
    handleChainEnd(outputs: any, runId: string): void;
    /** @param {any} error @param {string} runId */
    handleChainError(error: any, runId: string): void;
    /** @param {any[]} a */
    handleChatModelStart(...a: any[]): void;
    /** @param {any[]} a */
    handleLLMStart(...a: any[]): void;
    /** @param {any} _token @param {any} _idx @param {string} runId */
    handleLLMNewToken(_token: any, _idx: any, runId: string): void;
    /** @param {any} output @param {string} runId */
    handleLLMEnd(output: any, runId: string): void;
    /** @param {any} error @param {string} runId */
    handleLLMError(error: any, runId: string): void;
    /** @param {any[]} a */
    handleToolStart(...a: any[]): void;
    /** @param {any} output @param {string} runId */
    handleToolEnd(output: any, runId: string): void;
    /** @param {any} error @param {string} runId */
    handleToolError(error: any, runId: string): void;
    /** @param {any[]} a */
    handleRetrieverStart(...a: any[]): void;
    /** @param {any} documents @param {string} runId */
    handleRetrieverEnd(documents: any, runId: string): void;
    /** @param {any} error @param {string} runId */
    handleRetrieverError(error: any, runId: string): void;
}
/**
 * Where a chat model's own code runs (`_generateUncached`, `_streamIterator`): put in fivelens's
 * context, filled by the chat run that starts inside it. Looks like a span to whoever reads the
 * context (the OpenTelemetry API, a propagator): its span context is the one a span started here
 * nests under.
 */
export class ModelCallSlot {
    /** @param {any} outer the active span when the model was called */
    constructor(outer: any);
    outer: any;
    /** @type {Run | null} */
    run: Run | null;
    many: boolean;
    /** @param {Run} run */
    fill(run: Run): void;
    spanContext(): any;
    isRecording(): boolean;
    setAttribute(): this;
    setAttributes(): this;
    addEvent(): this;
    addLink(): this;
    addLinks(): this;
    setStatus(): this;
    updateName(): this;
    recordException(): void;
    end(): void;
}
/** One LangChain run in progress. */
declare class Run {
    /**
     * @param {string} id
     * @param {string} kind `chain`, `node`, `workflow`, `agent`, `chat`, `text_completion`, `tool`, `retriever`
     * @param {string} name
     * @param {any} frame the app's active span when the run started (a slot seen through)
     * @param {any} parent the explicit parent of its span (undefined: the active one)
     * @param {Run | null} root
     */
    constructor(id: string, kind: string, name: string, frame: any, parent: any, root: Run | null);
    id: string;
    kind: string;
    name: string;
    frame: any;
    parent: any;
    /** @type {Run} */
    root: Run;
    /** @type {any} */
    span: any;
    /** The parent its children get. @type {any} */
    effective: any;
    /** The LangGraph node run it belongs to. @type {Run | null} */
    node: Run | null;
    start: number;
    open: boolean;
    covered: boolean;
    firstToken: number;
    /** @type {any} */
    messages: any;
    /** @type {any} */
    metadata: any;
    maxStep: number;
    interrupted: boolean;
    /** On a root run: one of its runs timed out (LangGraph then ends it with `Error('Abort')`). */
    timedOut: boolean;
    /** Root only: tool name -> [attempt, last error type or null]. @type {Map<string, [number, string | null]> | null} */
    tools: Map<string, [number, string | null]> | null;
    /** Tool runs: an MCP call made inside took this run's span (see `currentToolSpan`). */
    mcp: boolean;
    /** Tool runs: the circuit breaker's answer. @type {any} */
    boundary: any;
}
export {};
