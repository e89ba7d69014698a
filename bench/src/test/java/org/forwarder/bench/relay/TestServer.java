package org.forwarder.bench.relay;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Random;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A backend for the relay tests, one thread pair per connection: sends its own seeded random bytes
 * (at once, or only after the client's end of stream), hashes what it receives until EOF, then
 * closes; or, in reset mode, reads a little and closes with a reset. Each connection's hashes are
 * queued for the test to match.
 */
final class TestServer implements AutoCloseable {
    enum Mode {
        SEND_AT_ONCE, SEND_AFTER_EOF, RESET,
        /** Sends and receives exactly sendBytes at once, does not wait for the client's EOF. */
        EXACT
    }

    record Result(String received, String sent) {}

    private final ServerSocket server;
    private final Thread acceptor;
    final LinkedBlockingQueue<Result> results = new LinkedBlockingQueue<>();
    final LinkedBlockingQueue<Throwable> failures = new LinkedBlockingQueue<>();
    private final AtomicInteger seeds = new AtomicInteger(1000);

    TestServer(Mode mode, int sendBytes) throws IOException {
        this(mode, sendBytes, 0);
    }

    /** {@code readDelayMillis}: how long each connection waits before it starts reading. */
    TestServer(Mode mode, int sendBytes, int readDelayMillis) throws IOException {
        server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
        acceptor = Thread.ofPlatform().daemon().name("test-server").start(() -> {
            try {
                while (true) {
                    Socket s = server.accept();
                    int seed = seeds.getAndIncrement();
                    Thread.ofPlatform().daemon().start(() -> serve(s, mode, sendBytes, seed, readDelayMillis));
                }
            } catch (IOException closed) {
                // the test is over
            }
        });
    }

    int port() {
        return server.getLocalPort();
    }

    private void serve(Socket s, Mode mode, int sendBytes, int seed, int readDelayMillis) {
        try (s) {
            if (readDelayMillis > 0) Thread.sleep(readDelayMillis);
            if (mode == Mode.RESET) {
                s.getInputStream().read(new byte[1024]);
                s.setSoLinger(true, 0);
                return;
            }
            String[] sent = new String[1];
            Thread writer = null;
            if (mode == Mode.SEND_AT_ONCE || mode == Mode.EXACT) {
                writer = Thread.ofPlatform().daemon().start(() -> sent[0] = sendQuietly(s, seed, sendBytes));
            }
            String received = mode == Mode.EXACT ? drainExactly(s.getInputStream(), sendBytes) : drain(s.getInputStream());
            if (mode == Mode.SEND_AFTER_EOF) {
                sent[0] = send(s.getOutputStream(), seed, sendBytes);
                s.shutdownOutput();
            } else {
                writer.join();
            }
            if (sent[0] == null) throw new IOException("sending failed");
            results.add(new Result(received, sent[0]));
        } catch (Throwable e) {
            failures.add(e);
        }
    }

    private String sendQuietly(Socket s, int seed, int bytes) {
        try {
            String h = send(s.getOutputStream(), seed, bytes);
            if (!s.isClosed()) s.shutdownOutput();
            return h;
        } catch (IOException e) {
            failures.add(e);
            return null;
        }
    }

    /** Writes {@code bytes} seeded random bytes; returns their SHA-256. */
    static String send(OutputStream out, long seed, int bytes) throws IOException {
        MessageDigest md = sha256();
        Random r = new Random(seed);
        byte[] chunk = new byte[8192 + (int) (seed % 977)];
        for (int left = bytes; left > 0; ) {
            int n = Math.min(left, chunk.length);
            r.nextBytes(chunk);
            out.write(chunk, 0, n);
            md.update(chunk, 0, n);
            left -= n;
        }
        out.flush();
        return HexFormat.of().formatHex(md.digest());
    }

    /** Reads to EOF; returns the SHA-256 of what was read. */
    static String drain(InputStream in) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[16384];
        for (int n; (n = in.read(buf)) >= 0; ) md.update(buf, 0, n);
        return HexFormat.of().formatHex(md.digest());
    }

    /** Reads exactly {@code bytes}; returns their SHA-256. */
    static String drainExactly(InputStream in, int bytes) throws IOException {
        MessageDigest md = sha256();
        byte[] buf = new byte[16384];
        for (int left = bytes; left > 0; ) {
            int n = in.read(buf, 0, Math.min(buf.length, left));
            if (n < 0) throw new IOException("EOF with " + left + " bytes still to come");
            md.update(buf, 0, n);
            left -= n;
        }
        return HexFormat.of().formatHex(md.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
    }
}
