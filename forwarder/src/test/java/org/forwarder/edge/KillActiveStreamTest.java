package org.forwarder.edge;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Drained;
import org.forwarder.it.Peers.End;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Found in review: at the end of the shutdown grace period, a stream that is actively streaming
 * but whose buffers happen to be empty between two reads must not be closed with a clean FIN:
 * the client would take a truncated download for a complete one.
 */
class KillActiveStreamTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @ParameterizedTest(name = "[{0}]")
    @ValueSource(strings = {"", "--splice-response"})
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void killedMidDownloadIsNotACleanEof(String mode) throws Exception {
        TestServer server = cleanup.add(new TestServer("trickle", 50, (s, i) -> {
            Peers.readExactly(s.getInputStream(), 1);
            OutputStream out = s.getOutputStream();
            byte[] b = new byte[1000];
            for (int k = 0; k < 4000; k++) { // 4 MB over ~20 s: never finished when the stop comes
                out.write(b);
                Thread.sleep(5);
            }
        }));
        Fw fw = Peers.startQuick(cleanup, server.port(), "30s", mode);
        Socket c = Peers.connect(cleanup, fw.port);
        c.getOutputStream().write('?');
        Peers.sleep(1000);
        CompletableFuture.runAsync(() -> fw.fw.shutdown(Duration.ofMillis(300)));
        Drained end = Peers.drainToEnd(c, Duration.ofSeconds(10));
        System.out.println("client: " + end);
        assertEquals(End.RESET, end.end(), "the download was cut after " + end.bytes()
                + " bytes of 4000000: a clean EOF makes the client take it for complete");
    }
}
