package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FdBudgetTest {

    /** maxconn 1000, maxpipes 250, 2 binds: needs 2000 + 500 + 2 + 32 = 2534 fds. */
    private static Config config() throws ConfigException {
        return ConfigParser.parse("""
                global
                    maxconn 1000
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
        assertEquals(2534, FdBudget.needed(config()));
    }

    @Test
    void fitsWithoutChanges() throws ConfigException {
        Config c = config();
        assertSame(c, FdBudget.fit(c, 2534, 2534, NO_RAISE));
        assertSame(c, FdBudget.fit(c, -1, -1, NO_RAISE), "RLIM_INFINITY");
    }

    @Test
    void raisesTheSoftLimitWhenTheHardLimitAllows() throws ConfigException {
        Config c = config();
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(c, 1024, 1_048_576, limit -> asked.add(limit));
        assertEquals(List.of(2534L), asked);
        assertSame(c, out);
    }

    @Test
    void raisesOnlyUpToTheHardLimitThenLowersMaxpipes() throws ConfigException {
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(config(), 1024, 2400, limit -> asked.add(limit));
        assertEquals(List.of(2400L), asked);
        // 2400 - 34 fixed - 2000 for connections leaves 366 fds: 183 pipes.
        assertEquals(183, out.global().maxpipes());
        assertEquals(1000, out.global().maxconn());
        assertEquals(List.of("maxpipes lowered from 250 to 183 to fit the open-file limit of 2400 (ulimit -n; hard limit 2400),"
                + " which is below the 2534 fds the configuration needs"), newWarnings(out));
        assertTrue(FdBudget.needed(out) <= 2400);
    }

    @Test
    void raiseFailsSoMaxpipesThenMaxconnAreLowered() throws ConfigException {
        List<Long> asked = new ArrayList<>();
        Config out = FdBudget.fit(config(), 1024, 4096, limit -> {
            asked.add(limit);
            return false;
        });
        assertEquals(List.of(2534L), asked);
        // 1024 - 34 fixed = 990 fds, no pipes: 495 connections.
        assertEquals(0, out.global().maxpipes());
        assertEquals(495, out.global().maxconn());
        assertEquals(495, out.frontend("a").maxconn());
        assertEquals(10, out.frontend("small").maxconn(), "frontends under the new limit keep theirs");
        String why = " to fit the open-file limit of 1024 (ulimit -n; hard limit 4096), which is below the 2534 fds the configuration needs";
        assertEquals(List.of(
                "maxpipes lowered from 250 to 0" + why + "; splicing is off",
                "maxconn lowered from 1000 to 495" + why,
                "frontend 'a' maxconn lowered from 900 to 495 to stay within the global maxconn lowered for the open-file limit"),
                newWarnings(out));
        assertTrue(FdBudget.needed(out) <= 1024);
        assertEquals(config().backends(), out.backends());
    }

    @Test
    void hardLimitEqualToSoftDoesNotAskToRaise() throws ConfigException {
        Config out = FdBudget.fit(config(), 2100, 2100, NO_RAISE);
        assertEquals(33, out.global().maxpipes());
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
