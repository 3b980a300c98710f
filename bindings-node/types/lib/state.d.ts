export type State = {
    /**
     * the addon, or null when it could not load
     */
    native: any;
    /**
     * whether loading was attempted
     */
    nativeLoaded: boolean;
    recording: boolean;
    /**
     * encoded spans waiting to be handed to the addon
     */
    buffer: any[];
    timer: ReturnType<typeof setTimeout> | null;
    /**
     * the store of the current frame when no OpenTelemetry API is present
     */
    als: AsyncLocalStorage<any>;
    /**
     * the OpenTelemetry bridge, when active
     */
    otel: any;
    /**
     * the resolved configuration
     */
    config: Record<string, any> | null;
    /**
     * what instrument() did
     */
    report: any;
    /**
     * spans ended since start
     */
    ended: number;
    /**
     * value of `ended` at the last exit flush
     */
    lastFlushedEnded: number;
    hooksInstalled: boolean;
    nextScopeId: number;
    maxAttributeBytes: number;
    /**
     * decisions are taken when a trace starts (`samplingMode: 'head'`)
     */
    headSampling: boolean;
    /**
     * spans of head-dropped traces not handed to the addon
     */
    headDropped: number;
    /**
     * loop or budget guards are set: model calls' spend is counted as they end
     */
    guards: boolean;
};
/**
 * @typedef {object} State
 * @property {any} native the addon, or null when it could not load
 * @property {boolean} nativeLoaded whether loading was attempted
 * @property {boolean} recording
 * @property {any[]} buffer encoded spans waiting to be handed to the addon
 * @property {ReturnType<typeof setTimeout> | null} timer
 * @property {AsyncLocalStorage<any>} als the store of the current frame when no OpenTelemetry API is present
 * @property {any} otel the OpenTelemetry bridge, when active
 * @property {Record<string, any> | null} config the resolved configuration
 * @property {any} report what instrument() did
 * @property {number} ended spans ended since start
 * @property {number} lastFlushedEnded value of `ended` at the last exit flush
 * @property {boolean} hooksInstalled
 * @property {number} nextScopeId
 * @property {number} maxAttributeBytes
 * @property {boolean} headSampling decisions are taken when a trace starts (`samplingMode: 'head'`)
 * @property {number} headDropped spans of head-dropped traces not handed to the addon
 * @property {boolean} guards loop or budget guards are set: model calls' spend is counted as they end
 */
/** @returns {State} */
export function state(): State;
import { AsyncLocalStorage } from "async_hooks";
