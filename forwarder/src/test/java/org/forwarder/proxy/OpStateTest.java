package org.forwarder.proxy;

import org.forwarder.config.ServerCheck;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The health counter and the status words HAProxy 2.6 shows for it (rise 2, fall 3: a fresh
 * server is "UP 1/3", measured on HAProxy 2.6.12 before its first check; one pass makes it "UP").
 */
class OpStateTest {
    private static OpState op(int rise, int fall) {
        return new OpState(new ServerCheck(true, 100, 100, 100, rise, fall, 0, null, false, false, 0, false, 10,
                ServerCheck.OnError.FAIL_CHECK, false, false));
    }

    @Test
    void statusWordsAlongFailuresAndPasses() {
        OpState o = op(2, 3);
        List<String> seen = new ArrayList<>();
        seen.add(o.statusText());
        List<Integer> changes = new ArrayList<>();
        changes.add(o.passed());
        seen.add(o.statusText());
        for (int i = 0; i < 3; i++) {
            changes.add(o.failed());
            seen.add(o.statusText());
        }
        for (int i = 0; i < 2; i++) {
            changes.add(o.passed());
            seen.add(o.statusText());
        }
        assertEquals(List.of("UP 1/3", "UP", "UP 2/3", "UP 1/3", "DOWN", "DOWN 1/2", "UP"), seen);
        assertEquals(List.of(0, 0, 0, -1, 0, 1), changes, "one DOWN after fall failures, one UP after rise passes");
        assertEquals(3, o.failures());
        assertEquals(1, o.downs());
    }

    @Test
    void aFreshServerFallsAtItsFirstFailure() {
        OpState o = op(2, 3);
        assertEquals(-1, o.failed(), "up, but down at the first failure, as HAProxy starts a checked server");
        assertEquals("DOWN", o.statusText());
    }
}
