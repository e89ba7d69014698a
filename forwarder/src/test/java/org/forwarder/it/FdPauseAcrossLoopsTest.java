package org.forwarder.it;

import org.forwarder.Forwarder;
import org.forwarder.config.ConfigParser;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two frontends: f1 at its maxconn (its listener paused at the limit on every loop), f2's accepts
 * failing with EMFILE. An fd-paused listener retries every 100 ms, or when its own loop closes a
 * connection. Regression (found in review): a place given back after a failed accept woke the
 * other loop, which resumed its fd-paused listener too, failed, gave its place back and woke the
 * first: 61,525 accept4 calls a second at nbthread 2 against 10 at nbthread 1. Counts calls,
 * not time: a bound that only a wake-up storm can pass.
 */
class FdPauseAcrossLoopsTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    static volatile int f2Port = -1;
    static volatile boolean emfile;
    static final AtomicLong f2Accepts = new AtomicLong();

    /** EMFILE on f2's listening sockets while armed (one instance per loop, the state is shared). */
    static final class Sys extends Syscalls {
        @Override
        public int accept4(int fd, int flags) {
            if (emfile) {
                SockAddr a = getsockname(fd);
                if (a != null && a.port() == f2Port) {
                    f2Accepts.incrementAndGet();
                    return -Errno.EMFILE;
                }
            }
            return super.accept4(fd, flags);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {1, 2})
    @Timeout(60)
    void fdPausedListenerDoesNotPingPong(int loops) throws Exception {
        f2Accepts.set(0);
        TestServer hold = cleanup.add(new TestServer("hold", 256, (s, i) -> s.getInputStream().read()));
        String cfg = """
                global
                    nbthread %d
                defaults
                    mode tcp
                    timeout connect 2s
                    timeout client 30s
                    timeout server 30s
                frontend f1
                    bind 127.0.0.1:0
                    maxconn 1
                    default_backend b
                frontend f2
                    bind 127.0.0.1:0
                    default_backend b
                backend b
                    server s 127.0.0.1:%d
                """.formatted(loops, hold.port());
        Forwarder fw = Forwarder.start(ConfigParser.parse(cfg, "spin.cfg"), System.out::println, Sys::new);
        cleanup.add(fw);
        int p1 = fw.boundAddresses().get(0).port();
        f2Port = fw.boundAddresses().get(1).port();
        List<Socket> socks = new ArrayList<>();
        // f1: one held, then more until both loops paused their f1 listener at the limit
        for (int i = 0; i < 40; i++) {
            Socket s = new Socket();
            cleanup.add(s);
            s.connect(new InetSocketAddress(Peers.LOOPBACK, p1), 2000);
            s.getOutputStream().write(1);
            socks.add(s);
            long[] pauses = fw.counters().perLoop(ProcessCounter.ACCEPT_PAUSES);
            if (i > 4 && Arrays.stream(pauses).allMatch(x -> x > 0)) break;
            Thread.sleep(20);
        }
        System.out.println("pauses per loop " + Arrays.toString(fw.counters().perLoop(ProcessCounter.ACCEPT_PAUSES)));
        emfile = true;
        for (int i = 0; i < 8; i++) {
            Socket s = new Socket();
            cleanup.add(s);
            s.connect(new InetSocketAddress(Peers.LOOPBACK, f2Port), 2000);
            socks.add(s);
        }
        Thread.sleep(500);
        long a0 = f2Accepts.get();
        long passes0 = Arrays.stream(fw.counters().perLoop(ProcessCounter.POLL_PASSES)).sum();
        Thread.sleep(1000);
        long a1 = f2Accepts.get();
        long passes1 = Arrays.stream(fw.counters().perLoop(ProcessCounter.POLL_PASSES)).sum();
        emfile = false;
        System.out.println("loops " + loops + ": accept4 on f2 in 1 s: " + (a1 - a0) + ", passes: " + (passes1 - passes0));
        assertTrue(a1 - a0 < 100, "accept4 calls on f2's EMFILE-paused listeners in one second: " + (a1 - a0)
                + " (passes " + (passes1 - passes0) + ")");
        fw.shutdown(Duration.ZERO);
    }
}
