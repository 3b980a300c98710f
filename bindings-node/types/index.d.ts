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
    instrument: typeof api.instrument;
    shutdown: typeof api.shutdown;
    flush: typeof api.flush;
    withSpan: typeof api.withSpan;
    startSpan: typeof api.startSpan;
    withContext: typeof api.withContext;
    withStage: typeof api.withStage;
    withPrompt: typeof api.withPrompt;
    countTokens: typeof api.countTokens;
    tokenEncoding: typeof api.tokenEncoding;
    redact: typeof api.redact;
    keepTrace: typeof api.keepTrace;
    instrumentModules: typeof api.instrumentModules;
    currentSpan: typeof api.currentSpan;
    inject: typeof api.inject;
    extract: typeof api.extract;
    bindContext: typeof api.bindContext;
    status: typeof api.status;
    spanProcessor: typeof api.spanProcessor;
    recordEvaluation: typeof import("./lib/logs").recordEvaluation;
    logContext: typeof import("./lib/logs").logContext;
    Span: typeof api.Span;
    RemoteContext: typeof api.RemoteContext;
};
export = _exports;
import { withLlmCall } from "./lib/llm";
import { startLlmCall } from "./lib/llm";
import { LlmCall } from "./lib/llm";
import contextWindowApi = require("./lib/context_window");
import api = require("./lib/api");
