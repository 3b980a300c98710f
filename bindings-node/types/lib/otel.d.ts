/**
 * Installs the bridge; returns `{api, store}` or null when the API is not importable.
 * @returns {any}
 */
export function install(): any;
/** The span processor an app with its own SDK provider passes at construction (case b). */
export class FivelensSpanProcessor {
    /** @type {Map<string, any>} span id -> scope, for spans inside a fivelens trace */
    _adopted: Map<string, any>;
    /**
     * @param {any} span
     * @param {any} parentContext
     */
    onStart(span: any, parentContext: any): void;
    /** @param {any} span a ReadableSpan */
    onEnd(span: any): void;
    forceFlush(): Promise<boolean>;
    shutdown(): Promise<void>;
}
export class FivelensPropagator {
    constructor(api: any);
    _api: any;
    /**
     * @param {any} context
     * @param {any} carrier
     * @param {any} setter
     */
    inject(context: any, carrier: any, setter: any): void;
    /**
     * @param {any} context
     * @param {any} carrier
     * @param {any} getter
     */
    extract(context: any, carrier: any, getter: any): any;
    fields(): string[];
}
export class FivelensContextManager {
    constructor(api: any);
    _api: any;
    _als: AsyncLocalStorage<any>;
    active(): any;
    /**
     * @param {any} context
     * @param {Function} fn
     * @param {any} [thisArg]
     * @param {...any} args
     */
    with(context: any, fn: Function, thisArg?: any, ...args: any[]): any;
    /**
     * @param {any} context
     * @param {any} target
     */
    bind(context: any, target: any): any;
    enable(): this;
    disable(): this;
}
/** Parent descriptor for a new fivelens span from any span with spanContext(). */
export function parentOf(span: any): {
    traceId: any;
    spanId: any;
    remote: boolean;
    sampled: boolean;
    traceState: any;
} | null;
import { AsyncLocalStorage } from "async_hooks";
