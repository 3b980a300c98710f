export function instrumentConsole(): undefined;
/** Patches pino when the app has it (now, or when it loads it). */
export function instrumentPino(): "pino is not installed" | undefined;
/** Patches winston when the app has it (now, or when it loads it). */
export function instrumentWinston(): "winston is not installed" | undefined;
/** Undoes every patch (shutdown). */
export function uninstrument(): void;
/** @param {any} exports the pino/lib/proto.js module (a factory of prototype instances) */
export function patchPino(exports: any): boolean;
/** @param {any} Logger winston's Logger class (lib/winston/logger.js) */
export function patchWinston(Logger: any): boolean;
