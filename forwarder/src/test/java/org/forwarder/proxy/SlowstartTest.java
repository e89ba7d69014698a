package org.forwarder.proxy;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code slowstart}: a server back UP ramps its weight (rounded up, at least 1) and its maxconn
 * (rounded down, at least 1) over the period, HAProxy's way.
 */
class SlowstartTest {
    private static Server server(int weight, String slowstart) throws Exception {
        return server(weight, slowstart, "");
    }

    private static Server server(int weight, String slowstart, String more) throws Exception {
        org.forwarder.config.Config cfg = org.forwarder.config.ConfigParser.parse("""
                defaults
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:1 check weight %d %s %s
                """.formatted(weight, slowstart, more), "slowstart.cfg");
        return Proxies.of(cfg, org.forwarder.stats.StatsRegistry.of(cfg)).backend("l").server("s");
    }

    @Test
    void weightRampsOverTheSlowstartPeriod() throws Exception {
        Server s = server(100, "slowstart 1s");
        assertEquals(100, s.effectiveWeight(System.nanoTime()), "no ramp at start");
        s.startRamp();
        long t0 = s.rampStart;
        assertEquals(1, s.effectiveWeight(t0), "at least 1");
        assertEquals(25, s.effectiveWeight(t0 + 250_000_000L));
        assertEquals(51, s.effectiveWeight(t0 + 500_000_001L), "rounded up");
        assertEquals(100, s.effectiveWeight(t0 + 1_000_000_000L));
        assertEquals(0, s.rampStart, "the ramp ends");
        assertEquals(-1, s.throttlePercent());
    }

    @Test
    void withoutSlowstartNoRamp() throws Exception {
        Server s = server(7, "");
        s.startRamp();
        assertEquals(7, s.effectiveWeight(System.nanoTime()));
    }

    @Test
    void maxconnRampsOverTheSlowstartPeriod() throws Exception {
        Server s = server(1, "slowstart 1s", "maxconn 10");
        assertEquals(10, s.rampedMaxconn(10, System.nanoTime()), "no ramp at start");
        s.startRamp();
        long t0 = s.rampStart;
        assertEquals(1, s.rampedMaxconn(10, t0), "at least 1");
        assertEquals(1, s.rampedMaxconn(10, t0 + 199_999_999L), "rounded down");
        assertEquals(2, s.rampedMaxconn(10, t0 + 250_000_000L));
        assertEquals(9, s.rampedMaxconn(10, t0 + 999_999_999L));
        assertEquals(10, s.rampedMaxconn(10, t0 + 1_000_000_000L));
        assertEquals(0, s.rampedMaxconn(0, t0), "no maxconn: no limit to ramp");
        assertEquals(1000, s.rampLeftMs(t0), "the whole period left");
        assertEquals(1, s.rampLeftMs(t0 + 999_999_999L), "rounded up");
        assertEquals(0, s.rampLeftMs(t0 + 1_000_000_000L));
        assertTrue(s.rampOver(t0 + 1_000_000_000L));
    }

    /** maxconn x elapsed in nanoseconds would overflow a long for a long slowstart (found by review). */
    @Test
    void aLongSlowstartWithALargeMaxconnDoesNotOverflow() throws Exception {
        Server s = server(256, "slowstart 10d", "maxconn 30000");
        s.startRamp();
        long t0 = s.rampStart;
        long half = 5L * 24 * 3600 * 1_000_000_000L;
        assertEquals(15000, s.rampedMaxconn(30000, t0 + half), "half way through the ramp: half the maxconn");
        assertEquals(128, s.effectiveWeight(t0 + half), "and half the weight");
    }
}
