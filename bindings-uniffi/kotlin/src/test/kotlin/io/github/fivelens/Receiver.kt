package io.github.fivelens

import org.json.JSONArray
import org.json.JSONObject
import java.io.File
import java.net.HttpURLConnection
import java.net.URI

/**
 * The repository's loopback OTLP receiver (`make receiver`): it prints `READY {json}` and serves
 * what it received as JSON over HTTP, as the Python and Node tests use it.
 */
class Receiver : AutoCloseable {
    private val process: Process
    val endpoint: String

    init {
        val binary = System.getenv("FIVELENS_OTLP_RECEIVER")
            ?: error("FIVELENS_OTLP_RECEIVER is not set (make test-kotlin sets it)")
        check(File(binary).canExecute()) { "no receiver at $binary: run `make receiver`" }
        process = ProcessBuilder(binary, "--port", "0").redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val line = process.inputStream.bufferedReader().readLine() ?: ""
        check(line.startsWith("READY ")) { "receiver did not start: $line" }
        endpoint = JSONObject(line.removePrefix("READY ")).getString("http")
    }

    private fun call(method: String, path: String): String {
        val c = URI(endpoint + path).toURL().openConnection() as HttpURLConnection
        c.requestMethod = method
        c.connectTimeout = 10_000
        c.readTimeout = 10_000
        return c.inputStream.bufferedReader().use { it.readText() }.also { c.disconnect() }
    }

    fun spans(): List<JSONObject> {
        val a = JSONArray(call("GET", "/spans"))
        return (0 until a.length()).map { a.getJSONObject(it) }
    }

    /** The spans received, once there are at least [n] (or after [timeoutMs]). */
    fun waitFor(n: Int, timeoutMs: Long = 10_000): List<JSONObject> {
        val deadline = System.currentTimeMillis() + timeoutMs
        while (true) {
            val got = spans()
            if (got.size >= n || System.currentTimeMillis() > deadline) return got
            Thread.sleep(20)
        }
    }

    override fun close() {
        process.outputStream.close()
        if (!process.waitFor(5, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly()
    }
}
