package org.forwarder.bench.load;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.util.Locale;

/**
 * NIO echo server for load tests: every byte read is written back on the same connection. One or
 * two threads, each with its own selector (see {@link EchoLoop}); a listen backlog of 4096 and
 * round-robin dealing so bursts of thousands of connections and steady connection churn are
 * absorbed. Listens on a loopback address only.
 *
 * <p>{@code EchoServer --port PORT [--threads 1|2] [--lifetime SECONDS]}: runs until SIGTERM or
 * for at most the lifetime (default one hour), then prints what it did on stderr.
 */
public final class EchoServer implements AutoCloseable {
    private static final int BACKLOG = 4096;

    private final ServerSocketChannel server;
    private final EchoLoop[] loops;
    private final Thread[] threads;

    private EchoServer(ServerSocketChannel server, EchoLoop[] loops, Thread[] threads) {
        this.server = server;
        this.loops = loops;
        this.threads = threads;
    }

    /** Starts an echo server on {@code addr} (a loopback address; port 0 = any free port). */
    public static EchoServer start(InetSocketAddress addr, int threadCount) throws IOException {
        if (!addr.getAddress().isLoopbackAddress()) throw new IllegalArgumentException("not a loopback address: " + addr);
        if (threadCount < 1 || threadCount > 16) throw new IllegalArgumentException("threads must be 1..16: " + threadCount);
        ServerSocketChannel server = ServerSocketChannel.open();
        EchoLoop[] loops = new EchoLoop[threadCount];
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(addr, BACKLOG);
            server.configureBlocking(false);
            for (int i = 0; i < threadCount; i++) loops[i] = new EchoLoop();
            loops[0].acceptFor(server, loops);
        } catch (IOException | RuntimeException e) {
            for (EchoLoop l : loops) if (l != null) l.selector.close();
            server.close();
            throw e;
        }
        Thread[] threads = new Thread[threadCount];
        for (int i = 0; i < threadCount; i++) {
            threads[i] = new Thread(loops[i], "echo-" + i);
            threads[i].setDaemon(true);
            threads[i].start();
        }
        return new EchoServer(server, loops, threads);
    }

    public int port() {
        return server.socket().getLocalPort();
    }

    public long accepted() {
        long n = 0;
        for (EchoLoop l : loops) n += l.accepted;
        return n;
    }

    public long closed() {
        long n = 0;
        for (EchoLoop l : loops) n += l.closed;
        return n;
    }

    public long errors() {
        long n = 0;
        for (EchoLoop l : loops) n += l.errors;
        return n;
    }

    public long bytesEchoed() {
        long n = 0;
        for (EchoLoop l : loops) n += l.bytes;
        return n;
    }

    /** The first failure of a loop thread, or null. */
    public Throwable failure() {
        for (EchoLoop l : loops) if (l.failure != null) return l.failure;
        return null;
    }

    public boolean running() {
        for (Thread t : threads) if (!t.isAlive()) return false;
        return true;
    }

    /** Stops the loops (bounded wait), closes every connection and the listening socket. */
    @Override
    public void close() throws IOException {
        for (EchoLoop l : loops) {
            l.stop = true;
            l.selector.wakeup();
        }
        for (Thread t : threads) {
            try {
                t.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        server.close();
    }

    public String describe() {
        return String.format(Locale.ROOT, "echo server 127.0.0.1:%d: accepted %d, closed %d, errors %d, bytes echoed %d%s",
                port(), accepted(), closed(), errors(), bytesEchoed(), failure() == null ? "" : ", failure: " + failure());
    }

    public static void main(String[] args) throws InterruptedException {
        int port = -1, threads = 1;
        double lifetime = 3600;
        String bind = "127.0.0.1";
        try {
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--help") || a.equals("-h")) {
                    System.out.println("usage: EchoServer --port PORT [--threads 1|2] [--lifetime SECONDS] [--bind 127.0.0.1]");
                    return;
                }
                if (i + 1 >= args.length) throw new IllegalArgumentException("'" + a + "' needs a value");
                String v = args[++i];
                switch (a) {
                    case "--port" -> port = Integer.parseInt(v);
                    case "--threads" -> threads = Integer.parseInt(v);
                    case "--lifetime" -> lifetime = Double.parseDouble(v);
                    case "--bind" -> bind = v;
                    default -> throw new IllegalArgumentException("unknown option '" + a + "'");
                }
            }
            if (port < 0 || port > 65535) throw new IllegalArgumentException("'--port' is missing or out of range 0..65535");
            if (!(lifetime > 0 && lifetime <= 7 * 86400)) throw new IllegalArgumentException("'--lifetime' must be > 0 s and at most a week");
        } catch (IllegalArgumentException e) {   // NumberFormatException included
            System.err.println("EchoServer: " + e.getMessage());
            System.exit(2);
        }
        EchoServer s;
        try {
            s = start(new InetSocketAddress(InetAddress.ofLiteral(bind), port), threads);
        } catch (IOException | IllegalArgumentException e) {
            System.err.println("EchoServer: cannot listen on " + bind + ":" + port + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        System.err.println("EchoServer: listening on " + bind + ":" + s.port() + " with " + threads + " thread(s)");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.err.println(s.describe())));
        long end = System.nanoTime() + (long) (lifetime * 1e9);
        while (s.running() && System.nanoTime() - end < 0) {
            Thread.sleep(Math.min(1000, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
        }
        if (!s.running()) {
            System.err.println("EchoServer: a loop thread stopped: " + s.failure());
            System.exit(1);
        }
        System.err.println("EchoServer: lifetime of " + lifetime + " s reached, exiting");
        System.exit(0);
    }
}
