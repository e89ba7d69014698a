package org.forwarder.bench.relay;

import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;

/**
 * The TCP relay a Java developer would write on plain JDK NIO, as a yardstick for the forwarder:
 * one selector thread by default ({@code --threads N}, connections dealt round robin), a
 * non-blocking connect per client, one 16 KiB direct buffer per direction per connection,
 * back-pressure through interest ops, half-close and reset propagated (see
 * {@link NioConnection}). No Netty, no per-read allocation.
 *
 * <p>{@code NioRelay --listen 127.0.0.1:PORT --connect ADDR:PORT [--threads N]}: prints
 * {@code READY <port>} once listening and runs until SIGTERM.
 */
public final class NioRelay implements AutoCloseable {
    static final int BUFFER_BYTES = 16 * 1024;
    private static final int BACKLOG = 1024;

    private final ServerSocketChannel server;
    private final NioLoop[] loops;
    private final Thread[] threads;

    private NioRelay(ServerSocketChannel server, NioLoop[] loops, Thread[] threads) {
        this.server = server;
        this.loops = loops;
        this.threads = threads;
    }

    public static NioRelay start(RelayArgs args) throws IOException {
        if (args.splice()) throw new IllegalArgumentException("the NIO relay has no splice mode");
        ServerSocketChannel server = ServerSocketChannel.open();
        NioLoop[] loops = new NioLoop[args.threads()];
        try {
            server.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            server.bind(args.listen(), BACKLOG);
            server.configureBlocking(false);
            for (int i = 0; i < loops.length; i++) loops[i] = new NioLoop(args.connect());
            loops[0].acceptFor(server, loops);
        } catch (IOException | RuntimeException e) {
            for (NioLoop l : loops) if (l != null) l.selector.close();
            server.close();
            throw e;
        }
        Thread[] threads = new Thread[loops.length];
        for (int i = 0; i < loops.length; i++) {
            threads[i] = new Thread(loops[i], "nio-relay-" + i);
            threads[i].start();
        }
        return new NioRelay(server, loops, threads);
    }

    public int port() {
        return server.socket().getLocalPort();
    }

    /** Stops the loops (open connections are reset) and waits up to 1.5 s for them. */
    @Override
    public void close() {
        for (NioLoop l : loops) l.stop();
        long deadline = System.nanoTime() + 1_500_000_000L;
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // exiting anyway
        }
    }

    public static void main(String[] argv) {
        RelayArgs args = RelayArgs.parseOrExit("NioRelay", argv, false);
        NioRelay relay;
        try {
            relay = start(args);
        } catch (IOException e) {
            System.err.println("NioRelay: cannot listen on " + args.listen() + ": " + e.getMessage());
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(relay::close, "nio-relay-stop"));
        System.out.println("READY " + relay.port());
        System.out.flush();
    }
}
