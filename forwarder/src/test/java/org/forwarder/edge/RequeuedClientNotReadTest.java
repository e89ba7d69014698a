package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Socket;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 7.6: a stream whose connect failed and that went back to the server queue must not read
 * its client: reading would pin a request buffer while it waits (the seed 003 deadlock pattern).
 * One server with maxconn 1 that refuses: two clients take turns holding the slot; whoever
 * waits (queued, or turning around) must hold no buffer, while both clients have sent bytes.
 */
class RequeuedClientNotReadTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "option redispatch 1"})
    @Timeout(value = 30, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void waitingStreamsHoldNoBuffer(String redispatch) throws Exception {
        int dead = Peers.deadPort();
        Fw fw = Peers.startText(cleanup, Peers.defaults("20s", "timeout queue 10s", "timeout connect 100ms",
                "retries 8", redispatch) + """
                listen q
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d maxconn 1
                """.formatted(dead));
        Socket a = Peers.connect(cleanup, fw.port);
        Socket b = Peers.connect(cleanup, fw.port);
        a.getOutputStream().write(new byte[32 << 10]);
        b.getOutputStream().write(new byte[32 << 10]);
        // connect() returns once the kernel queued the connection; sample once the forwarder took both
        Peers.waitUntil("both clients accepted", java.time.Duration.ofSeconds(5), () -> fw.stats().accepted() == 2);
        long deadline = System.nanoTime() + 1_500_000_000L;
        int samples = 0;
        while (System.nanoTime() < deadline && fw.stats().active() > 0) {
            StatsSnapshot st = fw.stats();
            assertEquals(0, st.buffersInUse(), "a stream that is not connected must not read its client\n" + st.render());
            samples++;
            Thread.sleep(2);
        }
        assertTrue(samples > 100, "too few samples: " + samples);
        assertTrue(fw.stats().connectFailures() >= 4, "the clients must have taken turns\n" + fw.stats().render());
    }
}
