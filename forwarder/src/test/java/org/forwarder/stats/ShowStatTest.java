package org.forwarder.stats;

import org.forwarder.config.Config;
import org.forwarder.config.ConfigParser;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code show stat} against HAProxy 2.6.12's own answer (test resources: the configuration it ran
 * and what its stats socket printed, captured with socat) and against made-up counters.
 */
class ShowStatTest {
    static String resource(String name) throws IOException {
        try (InputStream in = ShowStatTest.class.getResourceAsStream("/stats/" + name)) {
            if (in == null) throw new IOException("missing test resource /stats/" + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** HAProxy's answer without the empty line that ends every CLI answer. */
    private static String haproxyShowStat() throws IOException {
        String s = resource("haproxy-2.6.12-show-stat.txt");
        assertTrue(s.endsWith("\n\n"), "captured answer ends with the CLI's empty line");
        return s.substring(0, s.length() - 1);
    }

    /** The configuration HAProxy ran, with its 'stats socket' line (not parsed by forwarder yet) made a comment. */
    private static Config haproxyConfig() throws Exception {
        String text = resource("haproxy-2.6.12-show-stat.cfg").replace("    stats socket", "    # stats socket");
        return ConfigParser.parse(text, "haproxy-2.6.12-show-stat.cfg");
    }

    private static final ShowStat.Figures NOTHING = (t, p, s, c) -> 0;

    private static int fields(String line) {
        return line.split(",", -1).length;
    }

    private static String field(String line, String column) {
        return line.split(",", -1)[ShowStat.COLUMNS.indexOf(column)];
    }

    @Test
    void headerIsHaproxysByteForByte() throws IOException {
        String captured = haproxyShowStat().split("\n")[0];
        assertEquals(captured, ShowStat.HEADER);
        assertEquals(129, fields(ShowStat.HEADER), "128 names, each followed by a comma");
    }

    /**
     * The configuration HAProxy ran (a listen with two servers, a frontend and a backend), no
     * traffic, one second after start: every line equals HAProxy's, empty fields included.
     */
    @Test
    void idleConfigRendersExactlyAsHaproxy() throws Exception {
        Config config = haproxyConfig();
        String ours = ShowStat.render(ShowStat.layout(config), NOTHING, 1);
        String[] want = haproxyShowStat().split("\n");
        String[] got = ours.split("\n");
        assertEquals(want.length, got.length, ours);
        for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], "line " + (i + 1));
        assertEquals(String.join("\n", want) + "\n", ours);
    }

    @Test
    void snapshotFiguresLandInTheirColumns() throws Exception {
        Config config = haproxyConfig();
        StatsRegistry reg = StatsRegistry.of(config);
        LoopCounters a = reg.newLoop();
        LoopCounters b = reg.newLoop();
        a.frontend("fe").add(ProxyCounter.SCUR, 2);
        a.frontend("fe").add(ProxyCounter.STOT, 7);
        b.frontend("fe").add(ProxyCounter.STOT, 3);
        a.frontend("fe").add(ProxyCounter.BIN, 1000);
        a.frontend("fe").add(ProxyCounter.BOUT, 2000);
        a.frontend("fe").add(ProxyCounter.CLI_ABRT, 4);
        a.backend("be").add(ProxyCounter.QCUR, 5);
        a.backend("be").add(ProxyCounter.STOT, 10);
        a.backend("be").add(ProxyCounter.ECON, 3);
        a.backend("be").add(ProxyCounter.WRETR, 2);
        a.backend("be").add(ProxyCounter.WREDIS, 1);
        a.backend("be").add(ProxyCounter.CLI_ABRT, 6);
        a.backend("be").add(ProxyCounter.SRV_ABRT, 8);
        a.server("be", "b1").add(ProxyCounter.SCUR, 2);
        a.server("be", "b1").add(ProxyCounter.STOT, 9);
        b.server("be", "b1").add(ProxyCounter.STOT, 1);
        a.server("be", "b1").add(ProxyCounter.BIN, 999);
        a.server("be", "b1").add(ProxyCounter.BOUT, 1999);
        a.server("lst", "s2").add(ProxyCounter.SCUR, 1);

        String out = ShowStat.render(ShowStat.layout(config), ShowStat.figures(reg.snapshot()), 3725);
        String[] lines = out.split("\n");
        assertEquals(8, lines.length);
        for (String l : lines) assertEquals(fields(ShowStat.HEADER), fields(l), l);

        String fe = lines[5];
        assertTrue(fe.startsWith("fe,FRONTEND,"), fe);
        assertEquals("2", field(fe, "scur"));
        assertEquals("10", field(fe, "stot"));
        assertEquals("10", field(fe, "conn_tot"));
        assertEquals("1000", field(fe, "bin"));
        assertEquals("2000", field(fe, "bout"));
        assertEquals("", field(fe, "cli_abrt"), "HAProxy leaves cli_abrt empty on frontends");
        assertEquals("", field(fe, "econ"));
        assertEquals("3", field(fe, "iid"));

        String b1 = lines[6];
        assertTrue(b1.startsWith("be,b1,"), b1);
        assertEquals("2", field(b1, "scur"));
        assertEquals("10", field(b1, "stot"));
        assertEquals("10", field(b1, "lbtot"));
        assertEquals("999", field(b1, "bin"));
        assertEquals("1999", field(b1, "bout"));
        assertEquals("", field(b1, "lastsess"), "time of the last session is not kept: unknown, not 'never'");
        assertEquals("3725", field(b1, "lastchg"));
        assertEquals("127.0.0.1:28413", field(b1, "addr"));

        String be = lines[7];
        assertTrue(be.startsWith("be,BACKEND,"), be);
        assertEquals("5", field(be, "qcur"));
        assertEquals("10", field(be, "stot"));
        assertEquals("3", field(be, "econ"));
        assertEquals("2", field(be, "wretr"));
        assertEquals("1", field(be, "wredis"));
        assertEquals("6", field(be, "cli_abrt"));
        assertEquals("8", field(be, "srv_abrt"));
        assertEquals("10", field(be, "lbtot"));
        assertEquals("4", field(be, "iid"));
        assertEquals("1", field(be, "type"));

        String s2 = lines[3];
        assertTrue(s2.startsWith("lst,s2,"), s2);
        assertEquals("1", field(s2, "scur"));
        assertEquals("-1", field(s2, "lastsess"));
    }

    @Test
    void configOrderListenDetectionAndFullconn() throws Exception {
        Config config = ConfigParser.parse(String.join("\n",
                "defaults",
                "    timeout connect 1s",
                "    timeout client 1s",
                "    timeout server 1s",
                "backend early",
                "    balance leastconn",
                "    server z 127.0.0.1:1 weight 0",
                "frontend f1",
                "    bind 127.0.0.1:28501",
                "    maxconn 1001",
                "    default_backend early",
                "listen mid",
                "    bind 127.0.0.1:28502",
                "    maxconn 20",
                "    server m 127.0.0.1:2",
                "frontend f2",
                "    bind 127.0.0.1:28503",
                "    maxconn 5",
                "    default_backend early",
                "backend unused",
                "    server u 127.0.0.1:3",
                ""), "t.cfg");
        List<ShowStat.Proxy> layout = ShowStat.layout(config);
        assertEquals(List.of("early", "f1", "mid", "f2", "unused"), layout.stream().map(ShowStat.Proxy::name).toList());
        assertEquals(List.of(2, 3, 4, 5, 6), layout.stream().map(ShowStat.Proxy::iid).toList());
        ShowStat.Proxy mid = layout.get(2);
        assertTrue(mid.frontend() != null && mid.backend() != null, "a listen is one proxy with both sides");
        assertNull(layout.get(0).frontend());
        assertNull(layout.get(1).backend());
        // HAProxy's default fullconn: ceil(sum of the maxconn of the frontends using it / 10), at least 1
        assertEquals(101, layout.get(0).backend().fullconn());
        assertEquals(2, mid.backend().fullconn());
        assertEquals(1, layout.get(4).backend().fullconn());

        String[] lines = ShowStat.render(layout, NOTHING, 0).split("\n");
        assertEquals(List.of("early,z", "early,BACKEND", "f1,FRONTEND", "mid,FRONTEND", "mid,m", "mid,BACKEND",
                        "f2,FRONTEND", "unused,u", "unused,BACKEND"),
                Arrays.stream(lines).skip(1).map(l -> l.substring(0, l.indexOf(',', l.indexOf(',') + 1))).toList());
        String early = lines[2];
        assertEquals("DOWN", field(early, "status"), "no server can take a connection");
        assertEquals("0", field(early, "act"));
        assertEquals("leastconn", field(early, "algo"));
        assertEquals("no check", field(lines[1], "status"));
        assertEquals("0", field(lines[1], "weight"));
        assertEquals("1", field(lines[1], "act"));
        assertEquals("UP", field(lines[6], "status"));
    }

    @Test
    void rowsCanBeGivenMoreFigures() throws Exception {
        List<ShowStat.Row> rows = ShowStat.rows(ShowStat.layout(haproxyConfig()), NOTHING, 0);
        ShowStat.Row fe = rows.get(0);
        assertEquals("lst", fe.pxname());
        assertEquals("FRONTEND", fe.svname());
        fe.set("smax", 42);
        assertEquals("42", field(fe.csv(), "smax"));
        assertNull(fe.get("qcur"));
    }
}
