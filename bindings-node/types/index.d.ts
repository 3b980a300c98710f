declare const _exports: {
    withLlmCall: typeof withLlmCall;
    startLlmCall: typeof startLlmCall;
    LlmCall: typeof LlmCall;
    testing: {
        /** @returns {any[]} */
        finishedSpans(): any[];
        clearFinishedSpans(): void;
        /** @returns {Record<string, any>} */
        defaultConfig(): Record<string, any>;
    };
    contextWindow: typeof contextWindowApi.contextWindow;
    withContextTiers: typeof contextWindowApi.withContextTiers;
    withRetrieval: typeof contextWindowApi.withRetrieval;
    withVerification: typeof contextWindowApi.withVerification;
    Retrieval: typeof contextWindowApi.Retrieval;
    Verification: typeof contextWindowApi.Verification;
    instrument: (options?: InstrumentOptions) => InstrumentReport;
    shutdown: (timeoutMs?: number) => Promise<boolean>;
    flush: (timeoutMs?: number) => Promise<boolean>;
    withSpan: <T>(name: string, attributes?: Record<string, any> | ((span: import("./lib/span").Span) => T), options?: SpanOptions | ((span: import("./lib/span").Span) => T), fn?: (span: import("./lib/span").Span) => T) => T;
    startSpan: (name: string, options?: SpanOptions & {
        instrumentation?: string;
    }) => import("./lib/span").Span;
    withContext: <T>(attributes: {
        sessionId?: string;
        userId?: string;
        tenant?: string;
        tags?: string[];
        [key: string]: any;
    }, fn: () => T) => T;
    withStage: <T>(name: string, fn: () => T) => T;
    withPrompt: <T>(name: string, versionOrFn: string | number | (() => T), fn?: () => T) => T;
    countTokens: (text: string, model?: string | null, options?: {
        encoding?: string;
    }) => number;
    tokenEncoding: (model: string) => string | null;
    redact: (text: string) => {
        text: string;
        entities: {
            type: string;
            start: number;
            end: number;
        }[];
    };
    keepTrace: (reason?: string) => boolean;
    instrumentModules: (modules: {
        openai?: any;
        anthropic?: any;
        langchain?: any;
        mcp?: any;
    }) => string[];
    currentSpan: () => any;
    inject: (carrier?: Record<string, string>, span?: import("./lib/span").Span) => Record<string, string>;
    extract: (carrier: Record<string, any>) => {
        traceId: string;
        spanId: string;
        sampled: boolean;
        traceState: string | undefined;
        scope: Record<string, any> | null;
        isValid(): boolean;
        spanContext(): {
            traceId: string;
            spanId: string;
            traceFlags: number;
            isRemote: boolean;
        };
    };
    bindContext: <F extends Function>(fn: F) => F;
    status: () => Record<string, any>;
    spanProcessor: () => import("./lib/otel").FivelensSpanProcessor;
    recordEvaluation: typeof import("./lib/logs").recordEvaluation;
    logContext: typeof import("./lib/logs").logContext;
    Span: typeof import("./lib/span").Span;
    RemoteContext: {
        new (traceId: string, spanId: string, sampled: boolean, traceState: string | undefined, scope: Record<string, any> | null): {
            traceId: string;
            spanId: string;
            sampled: boolean;
            traceState: string | undefined;
            scope: Record<string, any> | null;
            isValid(): boolean;
            spanContext(): {
                traceId: string;
                spanId: string;
                traceFlags: number;
                isRemote: boolean;
            };
        };
    };
};
export = _exports;
import { withLlmCall } from "./lib/llm";
import { startLlmCall } from "./lib/llm";
import { LlmCall } from "./lib/llm";
import contextWindowApi = require("./lib/context_window");
import api = require("./lib/api");
