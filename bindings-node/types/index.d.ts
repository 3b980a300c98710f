declare const _exports: {
    testing: {
        /** @returns {any[]} */
        finishedSpans(): any[];
        clearFinishedSpans(): void;
        /** @returns {Record<string, any>} */
        defaultConfig(): Record<string, any>;
    };
    instrument: typeof api.instrument;
    shutdown: typeof api.shutdown;
    flush: typeof api.flush;
    withSpan: typeof api.withSpan;
    startSpan: typeof api.startSpan;
    withContext: typeof api.withContext;
    currentSpan: typeof api.currentSpan;
    inject: typeof api.inject;
    extract: typeof api.extract;
    bindContext: typeof api.bindContext;
    status: typeof api.status;
    spanProcessor: typeof api.spanProcessor;
    Span: typeof api.Span;
    RemoteContext: typeof api.RemoteContext;
};
export = _exports;
import api = require("./lib/api");
