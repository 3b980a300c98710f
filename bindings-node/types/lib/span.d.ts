/**
 * A span. It also implements the OpenTelemetry `Span` interface, so that when the OpenTelemetry
 * API is present it is the active OTel span itself (no second object).
 */
export class Span {
    /**
     * @param {string} name
     * @param {number} kind OTLP kind number
     * @param {{traceId: string, spanId: string, remote: boolean, sampled: boolean, traceState?: string} | null} parent
     * @param {Scope | null} scope
     * @param {boolean} recording
     * @param {string | undefined} instrumentation
     */
    constructor(name: string, kind: number, parent: {
        traceId: string;
        spanId: string;
        remote: boolean;
        sampled: boolean;
        traceState?: string;
    } | null, scope: Scope | null, recording: boolean, instrumentation: string | undefined);
    name: any;
    _kind: number;
    _traceId: string;
    _parentId: string;
    _parentRemote: boolean;
    _sampled: any;
    _traceState: string | undefined;
    _spanId: string;
    _scope: Scope | null;
    /** @type {Record<string, any>} */
    _attributes: Record<string, any>;
    /** @type {any[] | null} */
    _events: any[] | null;
    /** @type {any[] | null} */
    _links: any[] | null;
    _status: number;
    /** @type {string | null} */
    _statusMessage: string | null;
    /** @type {string[] | null} */
    _truncated: string[] | null;
    _instrumentation: string | undefined;
    _storeOnly: boolean;
    _start: number;
    _recording: boolean;
    _dropped: boolean;
    /** Trace id, 32 hex digits. */
    get traceId(): string;
    /** Span id, 16 hex digits. */
    get spanId(): string;
    /** `traceparent` for this span. */
    get traceparent(): string;
    /** The trace-scoped attributes in force. */
    get contextAttributes(): {
        [x: string]: any;
    };
    /** OpenTelemetry: the span context. */
    spanContext(): {
        traceId: string;
        spanId: string;
        traceFlags: number;
        isRemote: boolean;
    };
    /** Whether attributes set now are recorded. */
    isRecording(): boolean;
    /**
     * Sets one attribute (any value: unknown types become their type name).
     * @param {string} key
     * @param {any} value
     * @returns {this}
     */
    setAttribute(key: string, value: any): this;
    /**
     * @param {Record<string, any>} attributes
     * @returns {this}
     */
    setAttributes(attributes: Record<string, any>): this;
    /**
     * Adds an event. OpenTelemetry's form (name, attributes?, time?) and (name, time) both work.
     * @param {string} name
     * @param {any} [attributesOrTime]
     * @param {any} [time]
     * @returns {this}
     */
    addEvent(name: string, attributesOrTime?: any, time?: any): this;
    /**
     * @param {{context: {traceId: string, spanId: string}, attributes?: Record<string, any>}} link
     * @returns {this}
     */
    addLink(link: {
        context: {
            traceId: string;
            spanId: string;
        };
        attributes?: Record<string, any>;
    }): this;
    /**
     * @param {Array<{context: {traceId: string, spanId: string}, attributes?: Record<string, any>}>} links
     * @returns {this}
     */
    addLinks(links: Array<{
        context: {
            traceId: string;
            spanId: string;
        };
        attributes?: Record<string, any>;
    }>): this;
    /**
     * Sets the status: `'ok'`, `'error'` (with a message) or `'unset'`, or OpenTelemetry's
     * `{code, message}` (0 unset, 1 ok, 2 error). OK is final.
     * @param {any} status
     * @param {string} [message]
     * @returns {this}
     */
    setStatus(status: any, message?: string): this;
    /**
     * Records an exception: an `exception` event, status ERROR and `error.type`.
     * @param {any} exception
     * @param {any} [time]
     */
    recordException(exception: any, time?: any): void;
    /** @param {string} name */
    updateName(name: string): this;
    /**
     * Ends the span (now, or at `time`: Date, epoch ms or HrTime). Ending twice does nothing.
     * @param {any} [time]
     */
    end(time?: any): void;
}
/**
 * Trace-scoped attributes (`withContext`), and attributes for model-call spans only
 * (`withStage`, `withPrompt`); nested scopes are merged when created.
 */
export class Scope {
    /**
     * @param {Record<string, any>} attributes already converted
     * @param {Scope | null} parent
     * @param {Record<string, any>} [llm] model-call attributes, already converted
     */
    constructor(attributes: Record<string, any>, parent: Scope | null, llm?: Record<string, any>);
    id: number;
    /** @type {Record<string, any>} stamped on every span */
    attributes: Record<string, any>;
    /** @type {Record<string, any>} stamped on model-call spans only; never sent downstream */
    llm: Record<string, any>;
}
/** Hands the buffered spans to the addon (one native call for the whole batch). */
export function handOver(): void;
/**
 * A span kind from a name (`'client'`) or an OpenTelemetry `SpanKind` number (0 is internal).
 * @param {any} kind
 * @returns {number}
 */
export function kindNumber(kind: any): number;
/** @param {any} attributes */
export function convert(attributes: any): Record<string, any>;
export namespace KIND {
    let internal: number;
    let server: number;
    let client: number;
    let producer: number;
    let consumer: number;
}
