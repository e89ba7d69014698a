package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.InputStream;
import java.net.Socket;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What one short connection costs in system calls that HAProxy does without (issue 11): a
 * request, its echo, the client's FIN, the server's FIN. The connect is confirmed by the
 * writable event alone (no SO_ERROR read when epoll reports no error), and the last FIN of the
 * stream goes out with close() (no shutdown() right before it). The bytes are checked, and each
 * stream must end cleanly: a FIN, not a reset, on both sides.
 */
class SyscallsPerConnectionTest {
    private static final int CONNECTIONS = 40;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aShortConnectionMakesOneShutdownAndNoSoErrorRead() throws Exception {
        TestServer server = cleanup.add(new TestServer("echo", CONNECTIONS, Peers.ECHO));
        FaultySyscalls sys = new FaultySyscalls();
        Fw fw = Peers.startQuick(cleanup, server.port(), "10s", "", sys);
        long shutdowns0 = sys.shutdowns();
        long soErrors0 = sys.soErrorReads();
        for (int i = 0; i < CONNECTIONS; i++) {
            try (Socket c = Peers.connect(cleanup, fw.port)) {
                byte[] msg = Peers.Pattern.bytes(i, 64);
                c.getOutputStream().write(msg);
                InputStream in = c.getInputStream();
                assertArrayEquals(msg, Peers.readExactly(in, msg.length), "connection " + i);
                c.shutdownOutput();
                assertEquals(-1, in.read(), "connection " + i + " ends with a FIN after the echo");
            }
        }
        var st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.aborts(), st.render());
        long shutdowns = sys.shutdowns() - shutdowns0;
        long soErrors = sys.soErrorReads() - soErrors0;
        assertTrue(shutdowns <= CONNECTIONS, "at most one shutdown() per connection (the first FIN), was "
                + shutdowns + " for " + CONNECTIONS);
        assertEquals(0, soErrors, "no SO_ERROR read for connects that epoll reported without an error");
    }
}
