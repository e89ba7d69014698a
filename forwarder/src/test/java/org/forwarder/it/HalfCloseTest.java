package org.forwarder.it;

import org.forwarder.it.Peers.Checker;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A FIN in one direction must not end the other: each side may go on sending after the other
 * shut its write side, and everything it sends arrives.
 */
class HalfCloseTest {
    private static final long MiB = 1 << 20;
    private static final long SMALL = 100_000;
    private static final long LARGE = 24 * MiB;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** Both directions ended with a FIN: nothing was aborted or timed out. */
    private static void assertEndedCleanly(Fw fw) {
        StatsSnapshot st = fw.awaitIdle(Duration.ofSeconds(5));
        assertEquals(0, st.aborts(), st.render());
        assertEquals(0, st.timeouts(), st.render());
    }

    /** Client: request, FIN; server: reads to EOF, pauses, then sends a large response after it. */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void serverSendsAfterClientFin(String mode) throws Exception {
        CompletableFuture<Checker> serverGot = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("respond-after-fin", 50, (s, i) -> {
            Checker c = new Checker(1);
            c.readAll(s.getInputStream()); // to the client's FIN
            serverGot.complete(c);
            Thread.sleep(300); // the stream sits half-closed for a while
            Peers.writePattern(s.getOutputStream(), 2, LARGE);
            s.shutdownOutput();
            // keep the socket until the client is done, so the FIN is the only end it sees
            if (s.getInputStream().read() != -1) throw new AssertionError("data after EOF");
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);

        Socket s = Peers.connect(cleanup, fw.port);
        Peers.writePattern(s.getOutputStream(), 1, SMALL);
        s.shutdownOutput();
        Checker got = new Checker(2);
        got.readAll(s.getInputStream());
        s.close();

        Checker atServer = serverGot.get(10, TimeUnit.SECONDS);
        assertEquals(SMALL, atServer.count, "request bytes the server got before the FIN");
        assertEquals(-1, atServer.firstMismatch);
        assertEquals(LARGE, got.count, "response bytes the client got after its own FIN");
        assertEquals(-1, got.firstMismatch, "first corrupted response byte");
        assertEquals(Peers.Pattern.sha(2, LARGE), got.sha());
        assertEndedCleanly(fw);
    }

    /** Server: a greeting, FIN; client: reads it to EOF, pauses, then sends a large request. */
    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-request --splice-response"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void clientSendsAfterServerFin(String mode) throws Exception {
        CompletableFuture<Checker> serverGot = new CompletableFuture<>();
        TestServer server = cleanup.add(new TestServer("fin-first", 50, (s, i) -> {
            Peers.writePattern(s.getOutputStream(), 3, SMALL);
            s.shutdownOutput();
            Checker c = new Checker(4);
            try {
                c.readAll(s.getInputStream());
            } finally {
                serverGot.complete(c);
            }
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "20s", mode);

        Socket s = Peers.connect(cleanup, fw.port);
        Checker greeting = new Checker(3);
        greeting.readAll(s.getInputStream()); // to the server's FIN
        assertEquals(SMALL, greeting.count, "greeting bytes before the server's FIN");
        assertEquals(-1, greeting.firstMismatch);
        Thread.sleep(300);
        Peers.writePattern(s.getOutputStream(), 4, LARGE);
        s.shutdownOutput();
        Checker atServer = serverGot.get(30, TimeUnit.SECONDS);
        assertEquals(-1, s.getInputStream().read(), "nothing more after the server's FIN");
        s.close();

        assertEquals(LARGE, atServer.count, "request bytes the server got after its own FIN");
        assertEquals(-1, atServer.firstMismatch, "first corrupted request byte");
        assertEquals(Peers.Pattern.sha(4, LARGE), atServer.sha());
        assertEndedCleanly(fw);
    }
}
