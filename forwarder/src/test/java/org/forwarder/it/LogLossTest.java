package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.DatagramPacket;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Log lines are never lost silently (a refused line is counted in DroppedLogs), len bounds the datagram, addresses are written as inet_ntop writes them, and every connection is logged once over two loops. */
class LogLossTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    /**
     * A syslog daemon that is slow (its Unix datagram queue is full: EAGAIN, as HAProxy counts in
     * DroppedLogs). Every event sent is either received or counted somewhere.
     */
    @Test
    void linesLostOnEagainAreCounted() throws Exception {
        Syscalls sys = Syscalls.get();
        Path path = dir.resolve("log.sock");
        int fd = sys.socket(SockConst.AF_UNIX, SockConst.SOCK_DGRAM | SockConst.SOCK_CLOEXEC, 0);
        assertTrue(fd >= 0);
        try {
            assertEquals(0, sys.bind(fd, SockAddr.unix(path.toString())));
            TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
            Fw fw = Peers.startText(cleanup, "global\n    log " + path + " local0\n" + Peers.oneServer(server.port(), "10s"));
            Peers.sleep(300);
            int received = 0;
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(65536);
                while (sys.recv(fd, buf, 0, buf.byteSize(), SockConst.MSG_DONTWAIT) > 0) { } // start notices
                int sent = 200;
                for (int i = 0; i < sent; i++) fw.fw.events().notice("review event " + i);
                Peers.sleep(1000); // the writer sends them all; the reader's queue holds max_dgram_qlen
                while (sys.recv(fd, buf, 0, buf.byteSize(), SockConst.MSG_DONTWAIT) > 0) received++;
                fw.fw.sync();
                long dropped = fw.fw.stats().get(ProcessCounter.LOG_DROPPED) + fw.fw.logWriter().eventsDropped();
                assertEquals(sent, received + dropped, "received " + received + ", counted as dropped " + dropped
                        + ": the rest were lost silently");
            }
        } finally {
            sys.close(fd);
        }
    }

    /** 'len 80' is the whole datagram, header included (HAProxy: "the maximum length of the line"). */
    @Test
    void lenBoundsTheDatagramEvenWithALongTag() throws Exception {
        LogTest.Syslog log = cleanup.add(new LogTest.Syslog());
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        String tag = "t".repeat(32);
        Fw fw = Peers.startText(cleanup, "global\n    log-tag " + tag + "\n    log 127.0.0.1:" + log.port() + " len 80 format rfc5424 local0\n"
                + Peers.oneServer(server.port(), "10s"));
        fw.fw.events().notice("hello");
        byte[] b = new byte[65536];
        DatagramPacket p = new DatagramPacket(b, b.length);
        log.socket.setSoTimeout(3000);
        log.socket.receive(p);
        assertTrue(p.getLength() <= 80, "datagram of " + p.getLength() + " bytes with len 80: "
                + new String(b, 0, p.getLength()));
    }

    /** A listener bound to ::ffff:127.0.0.1 (an IPv6 socket): HAProxy 2.6.12 logs the client as "::ffff:127.0.0.1:PORT". */
    @Test
    void ipv4MappedClientAddress() throws Exception {
        LogTest.Syslog log = cleanup.add(new LogTest.Syslog());
        TestServer server = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startText(cleanup, "global\n    log 127.0.0.1:" + log.port() + " local0\n"
                + Peers.defaults("10s", "log global", "option tcplog") + """
                listen l
                    bind ipv6@::ffff:127.0.0.1:0
                    server s 127.0.0.1:%d
                """.formatted(server.port()));
        try (java.net.Socket c = Peers.connect(cleanup, fw.port)) {
            Peers.exchange(c, new byte[] {1});
        }
        java.util.regex.Matcher m = log.await(".*\\[[^]]+\\] l l/s .*", Duration.ofSeconds(5));
        assertTrue(m.group().contains("]: ::ffff:127.0.0.1:"), m.group());
    }

    /** Two loops, a small ring, 400 short connections: each line once, none lost (except counted drops). */
    @Test
    void everyConnectionLoggedOnceAcrossLoops() throws Exception {
        LogTest.Syslog log = cleanup.add(new LogTest.Syslog());
        log.socket.setReceiveBufferSize(4 << 20);
        TestServer server = cleanup.add(new TestServer("echo", 200, Peers.ECHO));
        String text = "global\n    nbthread 2\n    log 127.0.0.1:" + log.port() + " local0 info\n"
                + Peers.oneServer(server.port(), "10s", "log global", "option tcplog");
        org.forwarder.Forwarder f = org.forwarder.Forwarder.start(org.forwarder.config.ConfigParser.parse(text, "it.cfg"),
                m -> { }, Syscalls::newInstance, 16);
        try {
            int port = f.boundAddresses().getFirst().port();
            java.util.Set<Integer> ports = new java.util.HashSet<>();
            int n = 400;
            for (int i = 0; i < n; i++) {
                try (java.net.Socket c = new java.net.Socket(Peers.LOOPBACK, port)) {
                    ports.add(c.getLocalPort());
                    c.getOutputStream().write(1);
                    c.getInputStream().read();
                }
            }
            Peers.waitUntil("streams closed", Duration.ofSeconds(10), () -> f.stats().active() == 0);
            f.sync();
            java.util.Map<Integer, Integer> seen = new java.util.HashMap<>();
            String l;
            while ((l = log.next(Duration.ofSeconds(1))) != null) {
                java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\]: 127\\.0\\.0\\.1:(\\d+) ").matcher(l);
                if (m.find()) seen.merge(Integer.parseInt(m.group(1)), 1, Integer::sum);
            }
            long dropped = f.stats().get(ProcessCounter.LOG_DROPPED);
            for (var e : seen.entrySet()) assertEquals(1, e.getValue(), "port " + e.getKey() + " logged twice");
            assertTrue(ports.containsAll(seen.keySet()), "a line for a port never used");
            assertEquals(n, seen.size() + dropped, "lines " + seen.size() + " dropped " + dropped);
        } finally {
            f.close();
        }
    }
}
