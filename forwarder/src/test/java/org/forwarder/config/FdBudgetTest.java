package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FdBudgetTest {

    /** maxconn 1000, maxpipes 250, 2 binds: needs 2000 + 500 + 2 + 32 = 2540 fds. */
    private static Config config() throws ConfigException {
        return ConfigParser.parse("""
                global
                    maxconn 1000
                    nbthread 2
                defaults
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                frontend a
                    bind 127.0.0.1:1
                    maxconn 900
                    default_backend b
                frontend small
                    bind 127.0.0.1:2
                    maxconn 10
                    default_backend b
                backend b
                    server s 127.0.0.1:3
                """, "fd.cfg");
    }

    private static final java.util.function.LongPredicate NO_RAISE = limit -> {
        throw new AssertionError("must not try to raise the limit");
    };

    @Test
    void needed() throws ConfigException {
        assertEquals(2540, FdBudget.needed(config()));
    }

    @Test
    void everyCheckedServerAddsItsCheckSocket() throws ConfigException {
        Config c = ConfigParser.parse("""
                defaults
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                listen l
                    bind 127.0.0.1:1
                    server s1 127.0.0.1:3 check
                    server s2 127.0.0.1:4 check
                    server s3 127.0.0.1:5
                """, "fd.cfg");
        Config none = ConfigParser.parse("""
                defaults
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                listen l
                    bind 127.0.0.1:1
                    server s1 127.0.0.1:3
                    server s2 127.0.0.1:4
                    server s3 127.0.0.1:5
                """, "fd.cfg");
        assertEquals(FdBudget.needed(none) + 2, FdBudget.needed(c));
    }

    @Test
    void everyLoopAddsItsEpollEventfdAndListeners() throws ConfigException {
        Config c = config();
        Config four = c.withGlobal(c.global().withNbthread(4));
        assertEquals(2540 + 2 * (2 + 2), FdBudget.needed(four));
    }

    @Test
    void fitsWithoutChanges() throws ConfigException {
        Config c = config();
        assertSame(c, FdBudget.fit(c, 2540, 2540, NO_RAISE));
        assertSame(c, FdBudget.fit(c, -1, -1, NO_RAISE), "RLIM_INFINITY");
    }

    @Test
    void raisesTheSoftLimitWhenTheHardLimitAllows() throws ConfigException {
        Config c = config();
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(c, 1024, 1_048_576, limit -> asked.add(limit));
        assertEquals(List.of(2540L), asked);
        assertSame(c, out);
    }

    @Test
    void raisesOnlyUpToTheHardLimitThenLowersMaxpipes() throws ConfigException {
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(config(), 1024, 2400, limit -> asked.add(limit));
        assertEquals(List.of(2400L), asked);
        // 2400 - 40 fixed (32 + 2 loops x (epoll, eventfd, 2 binds)) - 2000 for connections leaves 360 fds: 180 pipes.
        assertEquals(180, out.global().maxpipes());
        assertEquals(1000, out.global().maxconn());
        assertEquals(List.of("maxpipes lowered from 250 to 180 to fit the open-file limit of 2400 (ulimit -n; hard limit 2400),"
                + " which is below the 2540 fds the configuration needs"), newWarnings(out));
        assertTrue(FdBudget.needed(out) <= 2400);
    }

    @Test
    void raiseFailsSoMaxpipesThenMaxconnAreLowered() throws ConfigException {
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(config(), 1024, 4096, limit -> {
            asked.add(limit);
            return false;
        });
        assertEquals(List.of(2540L), asked);
        // 1024 - 40 fixed = 984 fds, no pipes: 492 connections.
        assertEquals(0, out.global().maxpipes());
        assertEquals(492, out.global().maxconn());
        assertEquals(492, out.frontend("a").maxconn());
        assertEquals(10, out.frontend("small").maxconn(), "frontends under the new limit keep theirs");
        String why = " to fit the open-file limit of 1024 (ulimit -n; hard limit 4096), which is below the 2540 fds the configuration needs";
        assertEquals(List.of(
                "maxpipes lowered from 250 to 0" + why + "; splicing is off",
                "maxconn lowered from 1000 to 492" + why,
                "frontend 'a' maxconn lowered from 900 to 492 to stay within the global maxconn lowered for the open-file limit"),
                newWarnings(out));
        assertTrue(FdBudget.needed(out) <= 1024);
        assertEquals(config().backends(), out.backends());
    }

    @Test
    void hardLimitEqualToSoftDoesNotAskToRaise() throws ConfigException {
        Config out = FdBudget.fit(config(), 2100, 2100, NO_RAISE);
        assertEquals(30, out.global().maxpipes());
        assertEquals(1000, out.global().maxconn());
    }

    @Test
    void tinyLimitKeepsOneConnection() throws ConfigException {
        Config out = FdBudget.fit(config(), 10, 10, NO_RAISE);
        assertEquals(1, out.global().maxconn());
        assertEquals(0, out.global().maxpipes());
        assertTrue(out.warnings().stream().anyMatch(w -> w.startsWith("maxconn lowered from 1000 to 1") && w.endsWith("raise the limit")));
    }

    private static List<String> newWarnings(Config out) throws ConfigException {
        List<String> w = new ArrayList<>(out.warnings());
        w.removeAll(config().warnings());
        return w;
    }
}
