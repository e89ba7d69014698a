package org.forwarder.proxy;

import org.forwarder.config.BackendConfig;
import org.forwarder.config.Balance;
import org.forwarder.config.ServerConfig;
import org.forwarder.config.SpliceOptions;
import org.forwarder.config.Timeouts;
import org.forwarder.stats.ProxyMax;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.sys.SockAddr;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which retries move to another server, and when a retry waits first: HAProxy 2.6's rules. */
class RedispatchPolicyTest {

    private static Backend backend(Balance balance, int servers, int retries, int redispatchAfter) {
        List<ServerConfig> list = new ArrayList<>();
        for (int i = 0; i < servers; i++) {
            list.add(new ServerConfig("s" + i, SockAddr.parse("127.0.0.1:" + (9001 + i)), 1, 0, "t:" + i));
        }
        StatsRegistry reg = new StatsRegistry(List.of(), java.util.Map.of("b", list.stream().map(ServerConfig::name).toList()));
        Server[] run = new Server[servers];
        for (int i = 0; i < servers; i++) run[i] = new Server("s" + i, list.get(i).address(), 1, 0, i + 1, i, reg.max(i + 1, ProxyMax.SMAX), reg.max(i + 1, ProxyMax.RATE_MAX));
        return new Backend(new BackendConfig("b", "t:1", balance, list, Timeouts.NONE, retries, SpliceOptions.NONE,
                redispatchAfter), 0, run, reg.max(0, ProxyMax.SMAX), reg.max(0, ProxyMax.QMAX), reg.max(0, ProxyMax.RATE_MAX));
    }

    /** The retries (1-based) of {@code retries} that redispatch, as a string such as "--R". */
    private static String pattern(Backend b, int retries) {
        StringBuilder sb = new StringBuilder();
        for (int k = 1; k <= retries; k++) sb.append(b.redispatchOnRetry(k) ? 'R' : '-');
        return sb.toString();
    }

    @Test
    void withoutTheOptionTheSameServerIsKept() {
        assertEquals("-----", pattern(backend(Balance.LEASTCONN, 2, 5, 0), 5));
        assertEquals("-----", pattern(backend(Balance.ROUNDROBIN, 3, 5, 0), 5));
    }

    @Test
    void intervals() {
        assertEquals("----R", pattern(backend(Balance.LEASTCONN, 2, 5, -1), 5), "the default: the last retry");
        assertEquals("---R-", pattern(backend(Balance.LEASTCONN, 2, 5, -2), 5), "the retry before the last");
        assertEquals("RRRRR", pattern(backend(Balance.LEASTCONN, 2, 5, 1), 5), "every retry");
        assertEquals("-R-R-", pattern(backend(Balance.LEASTCONN, 2, 5, 2), 5), "every second retry");
        assertEquals("RRR", pattern(backend(Balance.LEASTCONN, 2, 3, -9), 3), "an interval before the first retry: every retry");
    }

    @Test
    void roundRobinOverSeveralServersRedispatchesAtOnce() {
        Backend rr = backend(Balance.ROUNDROBIN, 2, 3, -1);
        assertEquals("RRR", pattern(rr, 3));
        assertEquals(false, rr.waitsBeforeRedispatch());
        Backend single = backend(Balance.ROUNDROBIN, 1, 3, -1);
        assertEquals("--R", pattern(single, 3));
        assertEquals(true, single.waitsBeforeRedispatch());
        assertEquals(true, backend(Balance.LEASTCONN, 3, 3, -1).waitsBeforeRedispatch());
    }
}
