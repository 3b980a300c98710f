// The Kotlin side of fivelens beside the generated bindings: the current span (context lives in
// the host language, as a ContextVar in Python and AsyncLocalStorage in Node), block forms that
// end what they start, attribute values from plain Kotlin values, and a flush at JVM exit.
package io.github.fivelens

private val current = ThreadLocal<Span?>()

/**
 * The span current on this thread (inside [withSpan] or [withLlmCall]), or null. Coroutines that
 * hop threads carry it with kotlinx-coroutines' `currentSpanLocal().asContextElement()`.
 */
fun currentSpan(): Span? = current.get()

/** The `ThreadLocal` behind [currentSpan], for `asContextElement()` in coroutines. */
fun currentSpanLocal(): ThreadLocal<Span?> = current

/** The W3C `traceparent` of the current span, for a request made inside it; null outside any. */
fun currentTraceparent(): String? = current.get()?.traceparent()

/** An attribute value from a String, Boolean, Int, Long, Float, Double or a list of one of them. */
fun attributeValue(value: Any): AttributeValue = when (value) {
    is AttributeValue -> value
    is String -> AttributeValue.Str(value)
    is Boolean -> AttributeValue.Bool(value)
    is Int -> AttributeValue.I64(value.toLong())
    is Long -> AttributeValue.I64(value)
    is Float -> AttributeValue.F64(value.toDouble())
    is Double -> AttributeValue.F64(value)
    is List<*> -> when {
        value.all { it is String } -> AttributeValue.StrList(value.map { it as String })
        value.all { it is Boolean } -> AttributeValue.BoolList(value.map { it as Boolean })
        value.all { it is Int || it is Long } -> AttributeValue.I64List(value.map { (it as Number).toLong() })
        value.all { it is Number } -> AttributeValue.F64List(value.map { (it as Number).toDouble() })
        else -> AttributeValue.Str(value.toString())
    }
    else -> AttributeValue.Str(value.toString())
}

/** Attributes from `"key" to value` pairs (null values are left out). */
fun attributesOf(vararg pairs: Pair<String, Any?>): Map<String, AttributeValue> =
    pairs.mapNotNull { (k, v) -> v?.let { k to attributeValue(it) } }.toMap()

private fun <T> runCurrent(span: Span, onError: (Throwable) -> Unit, block: () -> T): T {
    val previous = current.get()
    current.set(span)
    try {
        return block()
    } catch (e: Throwable) {
        onError(e)
        throw e
    } finally {
        current.set(previous)
    }
}

private fun Throwable.typeName(): String = this::class.simpleName ?: "Throwable"

/**
 * Runs [block] inside a new span, child of the current one (or of [parent]). An exception
 * leaving the block records an `exception` event and status ERROR on the span, and propagates
 * unchanged; the span ends either way.
 */
fun <T> withSpan(
    name: String,
    attributes: Map<String, AttributeValue> = emptyMap(),
    kind: SpanKind? = null,
    parent: Span? = currentSpan(),
    block: (Span) -> T,
): T {
    val span = startSpan(name, SpanOptions(parent = parent, kind = kind, attributes = attributes))
    try {
        return runCurrent(span, { span.recordError(it.typeName(), it.message ?: "", it.stackTraceToString()) }) {
            block(span)
        }
    } finally {
        span.end()
    }
}

/**
 * Runs [block] as one model call (a CLIENT span, child of the current span unless
 * [LlmCallOptions.parent] says otherwise). An exception leaving the block marks the call failed
 * and propagates unchanged; the call ends either way.
 */
fun <T> withLlmCall(options: LlmCallOptions, block: (LlmCall) -> T): T {
    val inside = if (options.parent == null && options.remoteParent == null) options.copy(parent = currentSpan()) else options
    val call = startLlmCall(inside)
    try {
        return runCurrent(call.span(), { call.fail(it.typeName(), it.message ?: "", it.stackTraceToString()) }) {
            block(call)
        }
    } finally {
        call.end()
    }
}

/**
 * Flushes at JVM exit, bounded by [timeoutMs] (the `exit_timeout_ms` option's default): call once
 * after [instrument]. Python flushes at exit and Node on `beforeExit`; a JVM app asks for it here.
 */
fun shutdownOnExit(timeoutMs: ULong = 2000uL) {
    if (exitHookAdded.compareAndSet(false, true)) {
        Runtime.getRuntime().addShutdownHook(Thread { shutdown(timeoutMs) })
    }
}

private val exitHookAdded = java.util.concurrent.atomic.AtomicBoolean(false)
