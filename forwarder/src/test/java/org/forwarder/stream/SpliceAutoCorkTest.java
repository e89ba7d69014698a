package org.forwarder.stream;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.net.Socket;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With splice-auto, two reads in a row that fill the whole buffer are sent with MSG_MORE and
 * switch the direction to splicing. The next receive is a splice that meets EAGAIN on an empty
 * pipe: Channel.spliceIn marks the socket not ready and returns, without the push (TCP_NODELAY)
 * that copyIn does on EAGAIN. The corked bytes wait in the kernel for the probe timer (about
 * 200 ms on loopback), in each direction. (On a brand-new connection the peer's small window
 * makes each 16 KiB send a full "size goal" that leaves anyway, hence the warm-up.)
 */
class SpliceAutoCorkTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void bytesSentWithMsgMoreArePushedWhenSpliceAutoTakesOver() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Fw fw = Peers.startQuick(cleanup, echo.port(), "30s", "--splice-auto");
        Socket c = Peers.connect(cleanup, fw.port);
        Random rnd = new Random(1);
        // warm up with messages shorter than a buffer: never a full read, so still copying
        byte[] small = new byte[3000];
        for (int i = 0; i < 100; i++) {
            rnd.nextBytes(small);
            assertArrayEquals(small, Peers.exchange(c, small));
        }
        // exactly two full default buffers (16 KiB): the second full read turns splice on
        byte[] msg = new byte[2 * 16384];
        rnd.nextBytes(msg);
        long t0 = System.nanoTime();
        byte[] back = Peers.exchange(c, msg);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertArrayEquals(msg, back);
        assertTrue(ms < 150, "an echo of " + msg.length + " bytes took " + ms + " ms: bytes sent with MSG_MORE "
                + "were not pushed when the direction switched to splice (" + fw.stats().render().replace('\n', ';') + ")");
    }
}
