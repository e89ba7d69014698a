package org.forwarder.config;

import org.forwarder.sys.SockAddr;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code stats socket}, {@code stats timeout}, {@code stats maxconn} in {@code global}. */
class StatsSocketConfigTest {
    private static final String PROXY = "listen w\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n";

    private static StatsConfig stats(String lines) throws ConfigException {
        return ConfigParser.parse("global\n" + lines + PROXY, "t.cfg").global().stats();
    }

    @Test
    void defaultsAreHaproxys() throws ConfigException {
        StatsConfig s = stats("");
        assertEquals(List.of(), s.sockets());
        assertEquals(10_000, s.timeoutMs());
        assertEquals(10, s.maxconn());
        assertEquals(StatsConfig.NONE, GlobalConfig.defaults().stats());
    }

    @Test
    void unixAndTcpSockets() throws ConfigException {
        StatsConfig s = stats("    stats socket /tmp/x.sock mode 600 level admin\n    stats socket ipv4@127.0.0.1:9999 level user\n"
                + "    stats socket unix@/tmp/y.sock\n    stats timeout 2m\n    stats maxconn 3\n");
        assertEquals(3, s.sockets().size());
        StatsConfig.Socket u = s.sockets().get(0);
        assertEquals(SockAddr.unix("/tmp/x.sock"), u.address());
        assertEquals(0600, u.mode());
        assertEquals(StatsConfig.Level.ADMIN, u.level());
        assertEquals("t.cfg:2", u.where());
        StatsConfig.Socket t = s.sockets().get(1);
        assertEquals(9999, t.address().port());
        assertEquals(StatsConfig.Level.USER, t.level());
        assertEquals(StatsConfig.Socket.NO_MODE, t.mode());
        assertEquals(StatsConfig.Level.OPERATOR, s.sockets().get(2).level(), "HAProxy's default level");
        assertEquals(120_000, s.timeoutMs());
        assertEquals(3, s.maxconn());
        // kept across the other with* copies
        GlobalConfig g = ConfigParser.parse("global\n    stats socket /tmp/x.sock\n" + PROXY, "t.cfg").global();
        assertEquals(1, g.withMaxconn(5).withNbthread(2).withMaxpipes(1).withCpuMap(CpuMap.NONE).stats().sockets().size());
    }

    @Test
    void badFormsNameFileLine() {
        String longPath = "/tmp/" + "a".repeat(200);
        String[][] cases = {
                {"    stats socket /tmp/x mode 999\n", "t.cfg:2: 'stats' bad mode '999'"},
                {"    stats socket /tmp/x level root\n", "t.cfg:2: 'stats' bad level 'root'"},
                {"    stats socket /tmp/x expose-fd listeners\n", "t.cfg:2: 'stats' 'stats socket' has unknown option 'expose-fd'"},
                {"    stats socket /tmp/x mode\n", "t.cfg:2: 'stats' 'mode' expects a value"},
                {"    stats socket /tmp/x mode 600 mode 644\n", "t.cfg:2: 'stats' 'mode' is given twice"},
                {"    stats socket ipv4@127.0.0.1:1 mode 600\n", "t.cfg:2: 'stats' 'mode' applies to Unix sockets only"},
                {"    stats socket ipv4@nowhere\n", "t.cfg:2: 'stats'"},
                {"    stats socket " + longPath + "\n", "t.cfg:2: 'stats'"},
                {"    stats socket\n", "t.cfg:2: 'stats' 'stats socket' expects a path"},
                {"    stats socket /tmp/x\n    stats socket /tmp/x\n", "t.cfg:3: 'stats' '/tmp/x' is already a stats socket (t.cfg:2)"},
                {"    stats timeout\n", "t.cfg:2: 'stats' 'stats timeout' expects a time"},
                {"    stats timeout 0\n", "t.cfg:2: 'stats' 'stats timeout' must be greater than 0"},
                {"    stats maxconn 0\n", "t.cfg:2: 'stats' '0' is out of range"},
                {"    stats enable\n", "t.cfg:2: 'stats' 'enable' is not supported here"},
                {"    stats\n", "t.cfg:2: 'stats' expects 'socket'"},
        };
        for (String[] c : cases) {
            ConfigException e = assertThrows(ConfigException.class, () -> stats(c[0]), c[0]);
            assertEquals(1, e.errors().size(), e.getMessage());
            assertTrue(e.errors().getFirst().startsWith(c[1]), () -> c[1] + "\nis not the start of\n" + e.getMessage());
            assertTrue(!e.getMessage().contains("Exception"), e.getMessage());
        }
    }

    @Test
    void proxyStatsStaysUnsupportedThere() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen w\n    stats enable\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n", "t.cfg"));
        assertTrue(!e.getMessage().contains("only allowed in the 'global'"), e.getMessage());
    }
}
