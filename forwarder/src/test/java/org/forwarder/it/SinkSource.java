package org.forwarder.it;

import org.forwarder.it.Peers.Checker;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.TestServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The "sink-and-source" peers of the integrity tests. A client opens a connection and sends a
 * 32-byte header (id, request seed, response length, response seed), then its request: that
 * many pattern bytes, then its FIN, while reading the response. The server, once it has the
 * header, sends the response (pattern bytes, then its FIN) while reading, hashing and checking
 * the request to its EOF. Each side checks what it received byte by byte and by SHA-256; the
 * server's verdict is kept by id for the test to check.
 *
 * <p>A connection that sends nothing at all (EOF before any header) gets nothing back but a
 * FIN: that is counted in {@link #emptyConnections}.
 */
final class SinkSource implements AutoCloseable {
    static final int HEADER = 32;

    /** What the server received on one connection. */
    record Received(long count, String sha, long firstMismatch, Throwable readError, Throwable writeError) {}

    /** What a client received (and sent). */
    record Transfer(long id, long requestLen, long responseLen, long responseCount, String responseSha,
                    long responseMismatch) {}

    final TestServer server;
    final AtomicInteger emptyConnections = new AtomicInteger();
    /** Connection ids in the order their headers reached the server. */
    final List<Long> order = new CopyOnWriteArrayList<>();
    private final Map<Long, CompletableFuture<Received>> results = new ConcurrentHashMap<>();

    SinkSource(Cleanup cleanup) throws IOException {
        this.server = cleanup.add(new TestServer("sinksource", 512, this::serve));
        cleanup.add(this);
    }

    int port() {
        return server.port();
    }

    static long requestSeed(long id) {
        return id * 1_000_003L + 17;
    }

    static long responseSeed(long id) {
        return id * 1_000_003L + 29;
    }

    private CompletableFuture<Received> slot(long id) {
        return results.computeIfAbsent(id, k -> new CompletableFuture<>());
    }

    private void serve(Socket s, int index) throws Exception {
        InputStream in = s.getInputStream();
        byte[] h = in.readNBytes(HEADER);
        if (h.length == 0) {
            emptyConnections.incrementAndGet();
            s.shutdownOutput();
            return;
        }
        if (h.length < HEADER) throw new IOException("EOF inside the header after " + h.length + " bytes");
        ByteBuffer bb = ByteBuffer.wrap(h);
        long id = bb.getLong();
        long reqSeed = bb.getLong();
        long respLen = bb.getLong();
        long respSeed = bb.getLong();
        order.add(id);
        AtomicReference<Throwable> writeError = new AtomicReference<>();
        Thread writer = Thread.ofVirtual().name("it-sinksource-writer-" + id).start(() -> {
            try {
                OutputStream out = s.getOutputStream();
                Peers.writePattern(out, respSeed, respLen);
                s.shutdownOutput();
            } catch (Throwable e) {
                writeError.set(e);
            }
        });
        Checker c = new Checker(reqSeed);
        Throwable readError = null;
        try {
            c.readAll(in);
        } catch (Throwable e) {
            readError = e;
        }
        if (!writer.join(Duration.ofSeconds(60))) {
            writeError.compareAndSet(null, new AssertionError("server writer did not finish"));
        }
        slot(id).complete(new Received(c.count, c.sha(), c.firstMismatch, readError, writeError.get()));
    }

    /** The server's verdict on connection {@code id}, waiting for it up to {@code max}. */
    Received received(long id, Duration max) throws Exception {
        return slot(id).get(max.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Runs one connection through {@code port}: sends the header and {@code reqLen} bytes then a
     * FIN, reads the response to EOF; asserts both directions are byte-exact (lengths, content,
     * SHA-256), the server side included.
     */
    Transfer transferAndCheck(int port, long id, long reqLen, long respLen) throws Exception {
        Transfer t = transfer(port, id, reqLen, respLen);
        check(t);
        return t;
    }

    static Transfer transfer(int port, long id, long reqLen, long respLen) throws Exception {
        return transfer(port, id, reqLen, respLen, 0);
    }

    /** As {@link #transfer(int, long, long, long)}, sleeping {@code pauseMs} after each 64 KiB of request. */
    static Transfer transfer(int port, long id, long reqLen, long respLen, long pauseMs) throws Exception {
        try (Socket s = new Socket()) {
            Peers.connect(s, port);
            AtomicReference<Throwable> writeError = new AtomicReference<>();
            Thread writer = Thread.ofVirtual().name("it-client-writer-" + id).start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    ByteBuffer h = ByteBuffer.allocate(HEADER);
                    h.putLong(id).putLong(requestSeed(id)).putLong(respLen).putLong(responseSeed(id));
                    out.write(h.array());
                    if (pauseMs <= 0) {
                        Peers.writePattern(out, requestSeed(id), reqLen);
                    } else {
                        byte[] b = new byte[65536];
                        for (long pos = 0; pos < reqLen; pos += b.length) {
                            int n = (int) Math.min(b.length, reqLen - pos);
                            Peers.Pattern.fill(requestSeed(id), pos, b, 0, n);
                            out.write(b, 0, n);
                            Thread.sleep(pauseMs);
                        }
                    }
                    s.shutdownOutput();
                } catch (Throwable e) {
                    writeError.set(e);
                }
            });
            Checker c = new Checker(responseSeed(id));
            try {
                c.readAll(s.getInputStream());
            } finally {
                if (!writer.join(Duration.ofSeconds(60))) {
                    throw new AssertionError("client " + id + ": writer still blocked 60 s after the response ended");
                }
            }
            if (writeError.get() != null) {
                throw new AssertionError("client " + id + ": sending the request failed", writeError.get());
            }
            return new Transfer(id, reqLen, respLen, c.count, c.sha(), c.firstMismatch);
        }
    }

    void check(Transfer t) throws Exception {
        String who = "connection " + t.id() + " (request " + t.requestLen() + " B, response " + t.responseLen() + " B): ";
        assertEquals(t.responseLen(), t.responseCount(), who + "response length seen by the client");
        assertEquals(-1L, t.responseMismatch(), who + "first corrupted response byte");
        assertEquals(Peers.Pattern.sha(responseSeed(t.id()), t.responseLen()), t.responseSha(), who + "response SHA-256");
        Received r = received(t.id(), Duration.ofSeconds(30));
        if (r.readError() != null) throw new AssertionError(who + "the server's read failed", r.readError());
        if (r.writeError() != null) throw new AssertionError(who + "the server's write failed", r.writeError());
        assertEquals(t.requestLen(), r.count(), who + "request length seen by the server");
        assertEquals(-1L, r.firstMismatch(), who + "first corrupted request byte");
        assertEquals(Peers.Pattern.sha(requestSeed(t.id()), t.requestLen()), r.sha(), who + "request SHA-256");
    }

    @Override
    public void close() {
        results.clear();
    }
}
