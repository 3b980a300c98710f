/**
 * A message part in the OpenTelemetry GenAI shape (`{type: 'text', content}`, `{type:
 * 'tool_call', id, name, arguments}`...).
 */
export type Part = Record<string, any>;
/**
 * A message in the OpenTelemetry GenAI shape.
 */
export type Message = {
    role: string;
    parts: Part[];
    name?: string;
    finish_reason?: string;
};
/**
 * Options of `startLlmCall()` / `withLlmCall()`. `provider` is the `gen_ai.provider.name` value
 * (`gcp.gemini`, `aws.bedrock`, `ollama`...); the request parameters become `gen_ai.request.*`.
 */
export type LlmCallOptions = {
    /**
     * `gen_ai.provider.name`
     */
    provider: string;
    /**
     * `gen_ai.request.model`
     */
    model?: string | undefined;
    /**
     * `gen_ai.operation.name`: `chat` (default), `text_completion`, `generate_content`, `embeddings`
     */
    operation?: string | undefined;
    /**
     * `server.address`
     */
    serverAddress?: string | undefined;
    /**
     * `server.port` (with `serverAddress`)
     */
    serverPort?: number | undefined;
    /**
     * `gen_ai.request.stream`
     */
    stream?: boolean | undefined;
    /**
     * explicit parent, as for `startSpan`
     */
    parent?: import("./span").Span | string | Record<string, string> | any;
    /**
     * any other attributes
     */
    attributes?: Record<string, any> | undefined;
    /**
     * `gen_ai.request.max_tokens`
     */
    maxTokens?: number | undefined;
    /**
     * `gen_ai.request.temperature`
     */
    temperature?: number | undefined;
    /**
     * `gen_ai.request.top_p`
     */
    topP?: number | undefined;
    /**
     * `gen_ai.request.top_k`
     */
    topK?: number | undefined;
    /**
     * `gen_ai.request.stop_sequences`
     */
    stopSequences?: string | string[] | undefined;
    /**
     * `gen_ai.request.frequency_penalty`
     */
    frequencyPenalty?: number | undefined;
    /**
     * `gen_ai.request.presence_penalty`
     */
    presencePenalty?: number | undefined;
    /**
     * `gen_ai.request.seed`
     */
    seed?: number | undefined;
    /**
     * `gen_ai.request.choice.count`
     */
    choiceCount?: number | undefined;
    /**
     * `gen_ai.request.reasoning.level`
     */
    reasoningLevel?: string | undefined;
    /**
     * `gen_ai.output.type`
     */
    outputType?: string | undefined;
    /**
     * `gen_ai.conversation.id`
     */
    conversationId?: string | undefined;
    /**
     * `gen_ai.request.encoding_formats`
     */
    encodingFormats?: string | string[] | undefined;
};
/**
 * Token usage as the provider reported it. `inputTokens` includes cached tokens and
 * `outputTokens` reasoning tokens (the conventions' rule: the others are subsets).
 */
export type LlmUsage = {
    inputTokens?: number | null | undefined;
    outputTokens?: number | null | undefined;
    cacheReadInputTokens?: number | null | undefined;
    cacheWriteInputTokens?: number | null | undefined;
    reasoningOutputTokens?: number | null | undefined;
};
/**
 * One model call in progress: the span and what is known about the call so far. Every method
 * is safe to call in any order and more than once (the last value wins); none throws for odd
 * values, and nothing is recorded once the call has ended.
 */
export class LlmCall {
    /**
     * @param {Span} span a started CLIENT span with the call's request attributes
     */
    constructor(span: Span);
    /** The call's span. */
    span: Span;
    _t0: number;
    _firstChunk: number;
    _lastActivity: number;
    _ended: boolean;
    _failed: boolean;
    _inputSet: boolean;
    _outputSet: boolean;
    /** @type {Message[] | null} */
    _inputMessages: Message[] | null;
    /** @type {string | null} */
    _systemText: string | null;
    /** @type {string | null} */
    _outputText: string | null;
    /** @type {string[]} */
    _chunks: string[];
    _capture: boolean;
    /** @type {string | null} */
    _format: string | null;
    /** @type {string | object | null} */
    _request: string | object | null;
    /** @type {string | object | null} */
    _response: string | object | null;
    /** Whether content is captured (`captureContent` and `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`). */
    get captureContent(): boolean;
    /** Whether the call has ended. */
    get ended(): boolean;
    /** Wall-clock time (epoch ms) of the last streamed chunk, 0 before any. */
    get lastActivityMs(): number;
    /**
     * Any other attribute on the span.
     * @param {string} key
     * @param {any} value
     * @returns {this}
     */
    setAttribute(key: string, value: any): this;
    /**
     * The input: `messages` (the conventions' `{role, parts}` shape, the common `{role, content}`
     * one, or a string), the separate system instructions (a string or parts) and the tool
     * definitions (`{type: 'function', name}`...).
     * @param {any} messages
     * @param {{system?: any, tools?: any[]}} [options]
     * @returns {this}
     */
    setInput(messages: any, options?: {
        system?: any;
        tools?: any[];
    }): this;
    /**
     * The input, already in the conventions' shape (integrations convert it themselves).
     * @param {Message[]} messages
     * @param {Part[] | null} systemParts
     * @param {any} tools
     * @param {string | null} systemText
     */
    _recordInput(messages: Message[], systemParts: Part[] | null, tools: any, systemText: string | null): void;
    /**
     * For integrations: the provider's request body, serialised now (what the SDK is about to
     * send), and its format (`openai.chat`, `openai.responses`, `openai.completions`,
     * `anthropic.messages`, `anthropic.complete`). The core's processing thread maps it to the
     * request parameters, the input content, the tool definitions and the system prompt (see
     * `core/src/providers.rs`); attributes set on the call itself win over what it gives.
     * @param {string} format
     * @param {any} body
     */
    _payload(format: string, body: any): void;
    /**
     * For integrations: a non-streamed response body as the provider's JSON text (the core maps
     * the response id and model, finish reasons, usage and output). Only the first one is kept.
     * @param {string | null | undefined} json
     */
    _responsePayload(json: string | null | undefined): void;
    /** Whether a response body was handed over. */
    get _hasResponsePayload(): boolean;
    /**
     * A streamed chunk arrived (with its text, if any): the first one sets
     * `gen_ai.response.time_to_first_chunk`.
     * @param {string | null} [text]
     * @returns {this}
     */
    chunk(text?: string | null): this;
    /**
     * The output: a string (one assistant message), or messages (one per choice). Without it,
     * the text of the streamed chunks is used.
     * @param {any} output
     * @param {{finishReasons?: string[] | string}} [options]
     * @returns {this}
     */
    setOutput(output: any, options?: {
        finishReasons?: string[] | string;
    }): this;
    /**
     * The output, already in the conventions' shape.
     * @param {Message[]} messages
     */
    _recordOutput(messages: Message[]): void;
    /**
     * Token usage as the provider reported it (non-negative integers; others are ignored).
     * @param {LlmUsage} usage
     * @returns {this}
     */
    setUsage(usage: LlmUsage): this;
    /**
     * The response id, the model that answered, and the finish reason of each choice.
     * @param {{id?: string | null, model?: string | null, finishReasons?: string[] | string | null}} response
     * @returns {this}
     */
    setResponse(response: {
        id?: string | null;
        model?: string | null;
        finishReasons?: string[] | string | null;
    }): this;
    /**
     * Marks the call failed: status ERROR, `error.type` (the error's class name unless given) and
     * an `exception` event. A string is a message: status ERROR and `error.type` `_OTHER` unless
     * given.
     * @param {any} error
     * @param {string} [errorType]
     * @returns {this}
     */
    fail(error: any, errorType?: string): this;
    /**
     * Ends the call (only the first call counts), now or at `endTimeMs` (epoch ms or a Date).
     * Without usage from the provider, the processing thread estimates it from the input and
     * output text and marks it estimated.
     * @param {number | Date} [endTimeMs]
     */
    end(endTimeMs?: number | Date): void;
}
/**
 * Starts a model call made through an SDK fivelens does not wrap (Gemini, Bedrock, a local
 * vLLM or Ollama server...): the same span, usage, cost and metrics as a wrapped one. The span
 * is not made active; end the call with `call.end()` (or use `withLlmCall`). Throws a
 * `TypeError` for a missing provider or an unknown option.
 * @param {LlmCallOptions} options
 * @returns {LlmCall}
 */
export function startLlmCall(options: LlmCallOptions): LlmCall;
/**
 * Runs `fn(call)` inside a model call (see `startLlmCall` for the options): the call's span is
 * the active span during `fn`, the call ends when `fn` returns or its promise settles, and an
 * exception or rejection marks it failed and is passed on unchanged.
 * @template T
 * @param {LlmCallOptions} options
 * @param {(call: LlmCall) => T} fn
 * @returns {T}
 */
export function withLlmCall<T>(options: LlmCallOptions, fn: (call: LlmCall) => T): T;
/**
 * For integrations: a call whose attributes are already keyed by their full names.
 * @param {string} operation
 * @param {string} provider
 * @param {string | null | undefined} model
 * @param {Record<string, any>} attributes
 * @param {string} instrumentation
 * @param {any} [parent]
 * @returns {LlmCall}
 */
export function startCall(operation: string, provider: string, model: string | null | undefined, attributes: Record<string, any>, instrumentation: string, parent?: any): LlmCall;
/**
 * Compact JSON of anything (values JSON cannot encode become strings; cycles are cut).
 * @param {any} value
 * @returns {string}
 */
export function toJson(value: any): string;
/**
 * A provider payload (a request body, a parsed response) as JSON: plain `JSON.stringify`, which
 * is what the SDKs send (its output is always well-formed), or `toJson` for what it refuses
 * (cycles, BigInt).
 * @param {any} value
 * @returns {string | null}
 */
export function payloadJson(value: any): string | null;
/**
 * @param {string} text
 * @returns {Part}
 */
export function textPart(text: string): Part;
/**
 * Messages in the conventions' shape (`{role, parts}`) from that shape or the common
 * `{role, content}` one; a bare string is one message of `defaultRole`.
 * @param {any} messages
 * @param {string} [defaultRole]
 * @returns {Message[]}
 */
export function normalizeMessages(messages: any, defaultRole?: string): Message[];
/**
 * The text of messages in the conventions' shape (for token estimates).
 * @param {Message[]} messages
 * @returns {string}
 */
export function messagesText(messages: Message[]): string;
/** @param {string} message */
export function report(message: string): void;
/**
 * A message part in the OpenTelemetry GenAI shape (`{type: 'text', content}`, `{type:
 * 'tool_call', id, name, arguments}`...).
 * @typedef {Record<string, any>} Part
 */
/**
 * A message in the OpenTelemetry GenAI shape.
 * @typedef {{role: string, parts: Part[], name?: string, finish_reason?: string}} Message
 */
/**
 * Options of `startLlmCall()` / `withLlmCall()`. `provider` is the `gen_ai.provider.name` value
 * (`gcp.gemini`, `aws.bedrock`, `ollama`...); the request parameters become `gen_ai.request.*`.
 * @typedef {object} LlmCallOptions
 * @property {string} provider `gen_ai.provider.name`
 * @property {string} [model] `gen_ai.request.model`
 * @property {string} [operation] `gen_ai.operation.name`: `chat` (default), `text_completion`, `generate_content`, `embeddings`
 * @property {string} [serverAddress] `server.address`
 * @property {number} [serverPort] `server.port` (with `serverAddress`)
 * @property {boolean} [stream] `gen_ai.request.stream`
 * @property {import('./span').Span | string | Record<string, string> | any} [parent] explicit parent, as for `startSpan`
 * @property {Record<string, any>} [attributes] any other attributes
 * @property {number} [maxTokens] `gen_ai.request.max_tokens`
 * @property {number} [temperature] `gen_ai.request.temperature`
 * @property {number} [topP] `gen_ai.request.top_p`
 * @property {number} [topK] `gen_ai.request.top_k`
 * @property {string | string[]} [stopSequences] `gen_ai.request.stop_sequences`
 * @property {number} [frequencyPenalty] `gen_ai.request.frequency_penalty`
 * @property {number} [presencePenalty] `gen_ai.request.presence_penalty`
 * @property {number} [seed] `gen_ai.request.seed`
 * @property {number} [choiceCount] `gen_ai.request.choice.count`
 * @property {string} [reasoningLevel] `gen_ai.request.reasoning.level`
 * @property {string} [outputType] `gen_ai.output.type`
 * @property {string} [conversationId] `gen_ai.conversation.id`
 * @property {string | string[]} [encodingFormats] `gen_ai.request.encoding_formats`
 */
/**
 * Token usage as the provider reported it. `inputTokens` includes cached tokens and
 * `outputTokens` reasoning tokens (the conventions' rule: the others are subsets).
 * @typedef {object} LlmUsage
 * @property {number | null} [inputTokens]
 * @property {number | null} [outputTokens]
 * @property {number | null} [cacheReadInputTokens]
 * @property {number | null} [cacheWriteInputTokens]
 * @property {number | null} [reasoningOutputTokens]
 */
/**
 * Request parameters by option name: [attribute, expected type, integer only].
 * @type {Record<string, [string, 'number' | 'string' | 'strings', boolean]>}
 */
export const REQUEST_PARAMS: Record<string, [string, "number" | "string" | "strings", boolean]>;
import { Span } from "./span";
