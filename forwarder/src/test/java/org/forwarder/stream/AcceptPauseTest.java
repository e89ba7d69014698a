package org.forwarder.stream;

import org.forwarder.Forwarder;
import org.forwarder.config.CommandLine;
import org.forwarder.sys.Errno;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Out of fds on accept (EMFILE, ENFILE): the listener pauses instead of spinning on the pending
 * connection, retries on a timer (or when a connection closes), and then serves the client.
 */
class AcceptPauseTest {
    @Test
    @Timeout(60)
    void emfileOnAcceptPausesTheListenerAndServesLater() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        try (ServerSocket echo = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = echo.accept()) {
                    s.getInputStream().transferTo(s.getOutputStream());
                } catch (Exception e) {
                    // end of test
                }
            });
            String[] args = {"--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + echo.getLocalPort(),
                    "--timeout-client", "30s", "--timeout-server", "30s"};
            try (Forwarder fw = Forwarder.start(CommandLine.parse(args).config(), log::add)) {
                int failures = 5;
                fw.call(w -> {
                    w.listeners().getFirst().injectAcceptFailure(Errno.EMFILE, failures);
                    return null;
                });
                long passes0 = fw.stats().passes();
                long cpu0 = fw.pollerCpuNanos();
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), fw.boundAddresses().get(0).port()), 5000);
                    c.setSoTimeout(10_000);
                    byte[] msg = "served after the fd shortage".getBytes();
                    c.getOutputStream().write(msg);
                    assertArrayEquals(msg, c.getInputStream().readNBytes(msg.length));
                }
                long passes = fw.stats().passes() - passes0;
                long cpuMs = (fw.pollerCpuNanos() - cpu0) / 1_000_000;
                assertEquals(failures, fw.stats().acceptPauses(), "one pause per failed accept");
                // a spinning listener would run thousands of passes during the ~0.5 s of retries
                assertTrue(passes < 200, "the paused listener spun: " + passes + " passes");
                assertTrue(cpuMs < 300, "the paused listener burned " + cpuMs + " ms");
                assertTrue(log.stream().anyMatch(l -> l.contains("EMFILE")), "the shortage is logged: " + log);
                assertEquals(1, log.stream().filter(l -> l.contains("EMFILE")).count(), "logged once, not per retry");
            }
            server.join(5000);
        }
    }
}
