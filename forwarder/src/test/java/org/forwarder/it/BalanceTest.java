package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Several servers: round-robin (plain and weighted) and leastconn. */
class BalanceTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    private final List<TestServer> servers = new ArrayList<>();

    /** Three tagged echo servers and a forwarder over them with {@code balance} and per-server {@code options}. */
    private Fw start(String balance, String... options) throws Exception {
        StringBuilder lines = new StringBuilder();
        for (int i = 1; i <= 3; i++) {
            TestServer s = cleanup.add(new TestServer("s" + i, 100, Peers.taggedEcho("s" + i)));
            servers.add(s);
            lines.append("    server s").append(i).append(" 127.0.0.1:").append(s.port())
                    .append(options.length > 0 ? " " + options[i - 1] : "").append('\n');
        }
        return Peers.startText(cleanup, Peers.defaults("20s") + """
                listen lb
                    bind 127.0.0.1:0
                    balance %s
                %s""".formatted(balance, lines));
    }

    /** Opens a connection, learns its server from the tag, checks the echo; leaves it open. */
    private Conn open(Fw fw) throws Exception {
        Socket s = Peers.connect(cleanup, fw.port);
        String tag = Peers.readLine(s.getInputStream());
        assertArrayEquals("x".getBytes(), Peers.exchange(s, "x".getBytes()), "echo through " + tag);
        return new Conn(s, tag);
    }

    private record Conn(Socket socket, String server) {}

    private List<String> sequential(Fw fw, int n) throws Exception {
        List<String> picks = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Conn c = open(fw);
            c.socket().close();
            picks.add(c.server());
            int closed = i + 1;
            Peers.waitUntil("stream " + i + " closed", Duration.ofSeconds(5), () -> fw.stats().closed() == closed);
        }
        return picks;
    }

    private static Map<String, Integer> count(List<String> picks) {
        Map<String, Integer> m = new TreeMap<>();
        for (String p : picks) m.merge(p, 1, Integer::sum);
        return m;
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void roundRobinSpreadsEvenly() throws Exception {
        Fw fw = start("roundrobin");
        List<String> picks = sequential(fw, 30);
        assertEquals(Map.of("s1", 10, "s2", 10, "s3", 10), count(picks), "picks " + picks);
        for (int i = 0; i + 3 <= picks.size(); i++) {
            assertEquals(3, new HashSet<>(picks.subList(i, i + 3)).size(),
                    "with equal weights every 3 consecutive connections go to 3 different servers: " + picks);
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void weightedRoundRobinFollowsWeights() throws Exception {
        Fw fw = start("roundrobin", "weight 1", "weight 2", "weight 3");
        List<String> picks = sequential(fw, 30);
        assertEquals(Map.of("s1", 5, "s2", 10, "s3", 15), count(picks), "picks " + picks);
        // and in every full cycle of 6, exactly 1/2/3
        for (int c = 0; c < 5; c++) {
            assertEquals(Map.of("s1", 1, "s2", 2, "s3", 3), count(picks.subList(6 * c, 6 * c + 6)), "cycle " + c + " of " + picks);
        }
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void leastConnPicksTheLeastLoaded() throws Exception {
        Fw fw = start("leastconn");
        List<Conn> live = new ArrayList<>();
        for (int i = 0; i < 3; i++) live.add(open(fw));
        assertEquals(3, new HashSet<>(live.stream().map(Conn::server).toList()).size(),
                "3 long-lived connections on 3 idle servers must land on 3 different servers: " + live);

        // free s2: the next one must go there
        closeOn(fw, live, "s2", 1);
        Conn d = open(fw);
        assertEquals("s2", d.server(), "s2 had 0 connections, the others 1");
        live.add(d);

        // one more each: 2/2/2
        List<String> next = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Conn c = open(fw);
            live.add(c);
            next.add(c.server());
        }
        assertEquals(3, new HashSet<>(next).size(), "with 1/1/1 connections, 3 new ones must spread: " + next);

        // empty s1 (2 connections): the next two both go there
        closeOn(fw, live, "s1", 2);
        Conn h = open(fw);
        Conn i = open(fw);
        assertEquals(List.of("s1", "s1"), List.of(h.server(), i.server()), "s1 had 0 connections, the others 2 each");
        assertEquals(6, fw.stats().active());
    }

    private void closeOn(Fw fw, List<Conn> live, String server, int n) throws Exception {
        int before = fw.stats().active();
        int closed = 0;
        for (var it = live.iterator(); it.hasNext() && closed < n; ) {
            Conn c = it.next();
            if (c.server().equals(server)) {
                c.socket().close();
                it.remove();
                closed++;
            }
        }
        assertEquals(n, closed, "connections on " + server + " in " + live);
        int expected = before - n;
        Peers.waitUntil("the forwarder closed " + n + " stream(s) on " + server, Duration.ofSeconds(5),
                () -> fw.stats().active() == expected);
    }
}
