package org.forwarder.splice;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** Small real peers for the splice tests: a threaded server, deterministic data, hashes, fd counts. */
final class SplicePeers {
    private SplicePeers() {}

    /** A server on 127.0.0.1:0 running {@code handler} for each connection on its own thread. */
    static final class TestServer implements AutoCloseable {
        final ServerSocket socket;
        final List<Socket> accepted = new CopyOnWriteArrayList<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        private final Thread acceptor;
        private final List<Thread> workers = new CopyOnWriteArrayList<>();

        TestServer(Consumer<Socket> handler) throws IOException {
            socket = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
            acceptor = Thread.ofPlatform().daemon().start(() -> {
                while (!socket.isClosed()) {
                    try {
                        Socket s = socket.accept();
                        accepted.add(s);
                        workers.add(Thread.ofPlatform().daemon().start(() -> {
                            try {
                                handler.accept(s);
                            } catch (Throwable t) {
                                errors.add(t);
                            }
                        }));
                    } catch (IOException e) {
                        return;
                    }
                }
            });
        }

        int port() {
            return socket.getLocalPort();
        }

        @Override
        public void close() throws Exception {
            socket.close();
            for (Socket s : accepted) s.close();
            acceptor.join(5000);
            for (Thread t : workers) t.join(5000);
        }
    }

    static Socket connect(int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
        return s;
    }

    static byte[] data(long seed, int size) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        return b;
    }

    static String sha256(byte[] b) {
        return sha256(b, b.length);
    }

    static String sha256(byte[] b, int len) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(b, 0, len);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** Reads to EOF (bounded by {@code max}); returns what came. */
    static byte[] readAll(InputStream in, int max) throws IOException {
        byte[] buf = new byte[max];
        int n = 0;
        while (n < max) {
            int r = in.read(buf, n, max - n);
            if (r < 0) break;
            n += r;
        }
        byte[] out = new byte[n];
        System.arraycopy(buf, 0, out, 0, n);
        return out;
    }

    static void readFully(InputStream in, byte[] into) throws IOException {
        int n = 0;
        while (n < into.length) {
            int r = in.read(into, n, into.length - n);
            if (r < 0) throw new IOException("EOF after " + n + " of " + into.length + " bytes");
            n += r;
        }
    }

    static void write(OutputStream out, byte[] b) throws IOException {
        out.write(b);
        out.flush();
    }

    static int openFds() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static List<Thread> threads(int n, Runnable r) {
        List<Thread> list = new ArrayList<>();
        for (int i = 0; i < n; i++) list.add(Thread.ofPlatform().daemon().start(r));
        return list;
    }
}
