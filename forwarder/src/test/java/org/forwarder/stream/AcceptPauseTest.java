package org.forwarder.stream;

import org.forwarder.it.FaultySyscalls;
import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.sys.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Out of fds on accept (EMFILE, ENFILE): the listener pauses instead of spinning on the pending
 * connection, retries on a timer (or when a connection closes), and then serves the client.
 */
class AcceptPauseTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(60)
    void emfileOnAcceptPausesTheListenerAndServesLater() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 10, Peers.ECHO));
        FaultySyscalls sys = new FaultySyscalls();
        Fw fw = Peers.startQuick(cleanup, echo.port(), "30s", "", sys);
        int failures = 5;
        sys.failAccepts(Errno.EMFILE, failures);
        long passes0 = fw.stats().passes();
        long cpu0 = fw.fw.pollerCpuNanos();
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.setSoTimeout(10_000);
            byte[] msg = "served after the fd shortage".getBytes();
            assertArrayEquals(msg, Peers.exchange(c, msg));
        }
        long passes = fw.stats().passes() - passes0;
        long cpuMs = (fw.fw.pollerCpuNanos() - cpu0) / 1_000_000;
        List<String> log = fw.log;
        assertEquals(failures, fw.stats().acceptPauses(), "one pause per failed accept");
        // a spinning listener would run thousands of passes during the ~0.5 s of retries
        assertTrue(passes < 200, "the paused listener spun: " + passes + " passes");
        assertTrue(cpuMs < 300, "the paused listener burned " + cpuMs + " ms");
        assertTrue(log.stream().anyMatch(l -> l.contains("EMFILE")), "the shortage is logged: " + log);
        assertEquals(1, log.stream().filter(l -> l.contains("EMFILE")).count(), "logged once, not per retry");
    }
}
