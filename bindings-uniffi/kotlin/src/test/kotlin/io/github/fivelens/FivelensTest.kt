package io.github.fivelens

import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asContextElement
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotEquals
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertSame
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.assertThrows
import org.junit.jupiter.api.io.TempDir
import java.io.File

/** The real library, loaded through JNA; spans checked at the OTLP receiver and in the store. */
class FivelensTest {
    @TempDir
    lateinit var home: File

    private val db get() = File(home, "fivelens.db").path

    /** fivelens exporting to [receiver] and storing in this test's own store file. */
    private fun start(receiver: Receiver, prices: List<String> = emptyList()): Instrumented = instrument(
        Config(
            serviceName = "kotlin-tests",
            otlpEndpoint = receiver.endpoint,
            store = "on",
            storePath = db,
            scheduleDelayMs = 50uL,
            prices = prices,
        ),
    )

    @AfterEach
    fun stop() {
        shutdown(5000uL)
    }

    private fun byName(spans: List<JSONObject>): Map<String, JSONObject> {
        val map = spans.associateBy { it.getString("name") }
        assertEquals(spans.size, map.size, "duplicate span names: ${spans.map { it.getString("name") }}")
        return map
    }

    @Test
    fun `Config() holds the core's defaults`() {
        val core = JSONObject(defaultConfigJson())
        val kotlin = JSONObject(configJson(Config()))
        assertEquals(core.keySet(), kotlin.keySet(), "the record lists the core's options")
        for (key in core.keySet()) {
            // A null field stands for the core's default where uniffi cannot write it (a list).
            if (kotlin.isNull(key) && !core.isNull(key)) continue
            assertTrue(JSONObject().put("v", core.opt(key)).similar(JSONObject().put("v", kotlin.opt(key))), "$key: Kotlin ${kotlin.opt(key)}, core ${core.opt(key)}")
        }
        // And resolved through the core (no environment set), Config() is the core's default.
        val resolved = JSONObject(configJson(instrument(Config()).config))
        assertTrue(core.similar(resolved), "instrument(Config()) resolved to\n$resolved\nnot\n$core")
    }

    @Test
    fun `redact finds PII with offsets into the Kotlin string`() {
        val text = "Café ☕ — write to jane.doe@example.com"
        val r = redact(text)
        assertEquals("Café ☕ — write to <EMAIL>", r.text)
        val e = r.entities.single()
        assertEquals("EMAIL", e.entityType)
        assertEquals("jane.doe@example.com", text.substring(e.start.toInt(), e.end.toInt()))

        // The redact_* options, as instrument() set them.
        instrument(Config(storePath = db, redactDeny = listOf("Project Falcon"), redactRules = listOf(RedactionRule("EMPLOYEE_ID", "EMP-[0-9]{5}"))))
        val custom = redact("EMP-12345 works on Project Falcon")
        assertEquals(listOf("EMPLOYEE_ID", "DENIED"), custom.entities.map { it.entityType })
        val bad = assertThrows<FivelensException.Config> { instrument(Config(redactRules = listOf(RedactionRule("BAD", "(")))) }
        assertTrue(bad.field.startsWith("redact_rules"), bad.field)
    }

    @Test
    fun `content recorded from Kotlin is redacted before it leaves the process`() {
        Receiver().use { receiver ->
            start(receiver)
            withLlmCall(LlmCallOptions(provider = "openai", model = "gpt-4o-mini")) { call ->
                call.setInput(listOf(ChatMessage("user", "Mail the invoice to jane.doe@example.com")))
                call.setOutput(listOf(ChatMessage("assistant", "Sent to jane.doe@example.com.")))
                call.setUsage(TokenUsage(inputTokens = 10uL, outputTokens = 5uL))
            }
            assertTrue(flush(5000uL))
            val a = receiver.waitFor(1).single().getJSONObject("attributes")
            assertFalse(a.toString().contains("jane.doe@example.com"), a.toString())
            assertTrue(a.getString("gen_ai.input.messages").contains("<EMAIL>"))
            assertTrue(a.getString("gen_ai.output.messages").contains("<EMAIL>"))
        }
    }

    @Test
    fun `spans and a model call reach the OTLP receiver and the local store as one trace`() {
        Receiver().use { receiver ->
            val started = start(receiver)
            assertTrue(started.recording)
            assertEquals("kotlin-tests", started.config.serviceName)
            assertEquals(50uL, started.config.scheduleDelayMs)

            var traceId = ""
            val reply = withSpan("answer question", attributesOf("user.query.length" to 42, "tags" to listOf("a", "b"))) { root ->
                traceId = root.traceId()
                assertSame(root, currentSpan())
                root.addEvent("plan", attributesOf("step" to "search"))
                val tool = startSpan("tool search", SpanOptions(parent = root, kind = SpanKind.CLIENT))
                tool.setAttribute("tool.ok", AttributeValue.Bool(true))
                tool.end()
                withLlmCall(LlmCallOptions(provider = "openai", model = "gpt-4o-mini", temperature = 0.2, maxTokens = 256)) { call ->
                    call.setInput(listOf(ChatMessage("user", "What is the capital of France?")), system = "You answer briefly.")
                    call.setOutput(listOf(ChatMessage("assistant", "Paris.")), listOf("stop"))
                    call.setUsage(TokenUsage(inputTokens = 1000uL, outputTokens = 200uL))
                    call.setResponse(id = "chatcmpl-1", model = "gpt-4o-mini")
                    "Paris."
                }
            }
            assertEquals("Paris.", reply)
            assertNull(currentSpan())
            assertTrue(flush(5000uL))

            val spans = byName(receiver.waitFor(3))
            assertEquals(setOf("answer question", "tool search", "chat gpt-4o-mini"), spans.keys)
            assertTrue(spans.values.all { it.getString("trace_id") == traceId }, "one trace")
            val root = spans.getValue("answer question")
            val tool = spans.getValue("tool search")
            val llm = spans.getValue("chat gpt-4o-mini")
            assertEquals("", root.getString("parent_span_id"))
            assertEquals(root.getString("span_id"), tool.getString("parent_span_id"))
            assertEquals(root.getString("span_id"), llm.getString("parent_span_id"))
            assertEquals(3, llm.getInt("kind"), "CLIENT")
            assertEquals(3, tool.getInt("kind"), "CLIENT")
            assertEquals(42, root.getJSONObject("attributes").getInt("user.query.length"))
            assertEquals("search", root.getJSONArray("events").getJSONObject(0).getJSONObject("attributes").getString("step"))
            assertEquals("kotlin", root.getJSONObject("resource").getString("telemetry.sdk.language"))
            assertEquals("kotlin-tests", root.getJSONObject("resource").getString("service.name"))

            val a = llm.getJSONObject("attributes")
            assertEquals("chat", a.getString("gen_ai.operation.name"))
            assertEquals("openai", a.getString("gen_ai.provider.name"))
            assertEquals("gpt-4o-mini", a.getString("gen_ai.request.model"))
            assertEquals(0.2, a.getDouble("gen_ai.request.temperature"))
            assertEquals(256, a.getInt("gen_ai.request.max_tokens"))
            assertEquals(1000, a.getInt("gen_ai.usage.input_tokens"))
            assertEquals(200, a.getInt("gen_ai.usage.output_tokens"))
            assertEquals("chatcmpl-1", a.getString("gen_ai.response.id"))
            assertEquals("stop", a.getJSONArray("gen_ai.response.finish_reasons").getString(0))
            // gpt-4o-mini: $0.15 and $0.60 per million input and output tokens.
            assertEquals(0.00027, a.getDouble("fivelens.cost.usd"), 1e-12)
            assertEquals(12, a.getString("fivelens.prompt.hash").length)
            val input = JSONObject("{\"m\":" + a.getString("gen_ai.input.messages") + "}").getJSONArray("m")
            assertEquals("What is the capital of France?", input.getJSONObject(0).getJSONArray("parts").getJSONObject(0).getString("content"))
            assertTrue(a.getString("gen_ai.system_instructions").contains("You answer briefly."))
            assertFalse(a.keySet().any { it.startsWith("fivelens._") }, "private attributes never leave the process")
            // The parent's roll-up of its model calls.
            assertEquals(1, root.getJSONObject("attributes").getInt("fivelens.rollup.llm_calls"))

            // The same trace in the local store, read with the `fivelens` command.
            val shown = runCli(listOf("show", traceId, "--json", "--db", db))
            assertEquals(0, shown.exitCode, shown.stderr)
            val stored = JSONObject(shown.stdout)
            assertEquals(1200, stored.getJSONObject("trace").getInt("input_tokens") + stored.getJSONObject("trace").getInt("output_tokens"))
            assertEquals(0.00027, stored.getJSONObject("trace").getDouble("cost_usd"), 1e-12)
            val storedSpans = stored.getJSONArray("spans")
            val names = (0 until storedSpans.length()).map { storedSpans.getJSONObject(it).getString("name") }
            assertEquals("answer question", names.first())
            assertEquals(setOf("answer question", "tool search", "chat gpt-4o-mini"), names.toSet())
        }
    }

    @Test
    fun `a call without reported usage gets estimated tokens, and a failed one is an error`() {
        Receiver().use { receiver ->
            // A local model priced by the app: $1 and $2 per million input and output tokens.
            start(receiver, prices = listOf("""{"provider": "ollama", "model": "llama3.1", "input": 1.0, "output": 2.0}"""))
            withLlmCall(LlmCallOptions(provider = "ollama", model = "llama3.1", serverAddress = "localhost", serverPort = 11434u)) { call ->
                call.setInput(listOf(ChatMessage("user", "Say hello to everyone in the room, please.")))
                call.setOutput(listOf(ChatMessage("assistant", "Hello, everyone!")))
            }
            val boom = assertThrows<IllegalStateException> {
                withLlmCall(LlmCallOptions(provider = "ollama", model = "failing")) { error("model unavailable") }
            }
            assertEquals("model unavailable", boom.message)
            assertTrue(flush(5000uL))
            val spans = byName(receiver.waitFor(2))
            val ok = spans.getValue("chat llama3.1").getJSONObject("attributes")
            assertTrue(ok.getInt("gen_ai.usage.input_tokens") > 0)
            assertTrue(ok.getInt("gen_ai.usage.output_tokens") > 0)
            assertTrue(ok.getBoolean("fivelens.usage.estimated"))
            val expected = (ok.getInt("gen_ai.usage.input_tokens") * 1.0 + ok.getInt("gen_ai.usage.output_tokens") * 2.0) / 1e6
            assertEquals(expected, ok.getDouble("fivelens.cost.usd"), 1e-12)
            assertEquals("localhost", ok.getString("server.address"))
            assertEquals(11434, ok.getInt("server.port"))
            val failed = spans.getValue("chat failing")
            assertEquals(2, failed.getInt("status_code"), "ERROR")
            assertEquals("model unavailable", failed.getString("status_message"))
            assertEquals("IllegalStateException", failed.getJSONObject("attributes").getString("error.type"))
            assertEquals("exception", failed.getJSONArray("events").getJSONObject(0).getString("name"))
            assertFalse(failed.getJSONObject("attributes").has("gen_ai.usage.input_tokens"), "no output, no estimate")
        }
    }

    @Test
    fun `context crosses processes as traceparent and headers`() {
        Receiver().use { receiver ->
            start(receiver)
            val client = startSpan("client call", SpanOptions(kind = SpanKind.CLIENT))
            val tp = client.traceparent()
            assertEquals("00-${client.traceId()}-${client.spanId()}-01", tp)
            assertEquals(tp, client.inject()["traceparent"])
            // The other side: headers in, a SERVER span in the same trace.
            val remote = extract(mapOf("TraceParent" to tp))
            assertTrue(remote.isValid())
            val server = startSpan("server handle", SpanOptions(remoteParent = remote, kind = SpanKind.SERVER))
            assertEquals(client.traceId(), server.traceId())
            server.end()
            client.end()
            // A malformed traceparent starts a new trace.
            val bad = extract(mapOf("traceparent" to "00-garbage"))
            assertFalse(bad.isValid())
            val fresh = startSpan("fresh", SpanOptions(remoteParent = bad))
            assertNotEquals(client.traceId(), fresh.traceId())
            fresh.end()
            assertTrue(flush(5000uL))
            val spans = byName(receiver.waitFor(3))
            assertEquals(spans.getValue("client call").getString("span_id"), spans.getValue("server handle").getString("parent_span_id"))
            assertEquals(2, spans.getValue("server handle").getInt("kind"), "SERVER")
            assertEquals("", spans.getValue("fresh").getString("parent_span_id"))
        }
    }

    @Test
    fun `the current span follows a coroutine onto another thread with asContextElement`() {
        Receiver().use { receiver ->
            start(receiver)
            val caller = Thread.currentThread()
            withSpan("request") {
                runBlocking(Dispatchers.Default + currentSpanLocal().asContextElement()) {
                    assertNotEquals(caller, Thread.currentThread())
                    withSpan("on a worker") {}
                }
            }
            assertTrue(flush(5000uL))
            val spans = byName(receiver.waitFor(2))
            assertEquals(spans.getValue("request").getString("span_id"), spans.getValue("on a worker").getString("parent_span_id"))
        }
    }

    @Test
    fun `an exception leaving withSpan marks the span and propagates`() {
        Receiver().use { receiver ->
            start(receiver)
            assertThrows<IllegalArgumentException> {
                withSpan("fails") {
                    withSpan("inner") { require(false) { "bad input" } }
                }
            }
            val described = startSpan("described")
            described.setStatus(SpanStatus.ERROR, "quota exceeded")
            described.end()
            assertTrue(flush(5000uL))
            val spans = byName(receiver.waitFor(3))
            val inner = spans.getValue("inner")
            assertEquals(2, inner.getInt("status_code"))
            assertEquals("IllegalArgumentException", inner.getJSONObject("attributes").getString("error.type"))
            val event = inner.getJSONArray("events").getJSONObject(0).getJSONObject("attributes")
            assertTrue(event.getString("exception.stacktrace").contains("FivelensTest"))
            assertEquals("bad input", inner.getString("status_message"))
            // The exception left the outer block too.
            assertEquals(2, spans.getValue("fails").getInt("status_code"))
            assertEquals(spans.getValue("fails").getString("span_id"), inner.getString("parent_span_id"))
            assertEquals("quota exceeded", spans.getValue("described").getString("status_message"))
        }
    }

    @Test
    fun `errors are typed, and spans end quietly when fivelens is off`() {
        val bad = assertThrows<FivelensException.Config> { instrument(Config(otlpProtocol = "carrier-pigeon")) }
        assertEquals("otlp_protocol", bad.field)
        assertThrows<FivelensException.InvalidArgument> { startLlmCall(LlmCallOptions(provider = " ")) }
        assertFalse(isRecording())
        val span = startSpan("nobody records this")
        assertFalse(span.isRecording())
        span.setAttribute("k", attributeValue("v"))
        span.end()
        span.end()
        assertTrue(countTokens("Hello, world!", "gpt-4o") > 0uL)
        assertEquals(2, runCli(listOf("no-such-command")).exitCode.coerceAtLeast(2))
    }
}
