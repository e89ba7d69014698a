package org.forwarder.stream;

import org.forwarder.Forwarder;
import org.forwarder.config.CommandLine;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Timeout;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Request/response traffic whose messages end exactly on a buffer boundary. After a read that
 * fills the whole buffer the forwarder sends with MSG_MORE, expecting more bytes; when none come
 * it must push what the kernel holds. If it did not, each message would wait for the kernel's
 * persist timer (200 ms on loopback) before leaving: 50 exchanges would take 10 s or more instead
 * of a few milliseconds each. The bound below (5 s for all 50) only detects that stall; it is not
 * a performance figure.
 */
class MessageBoundaryTest {
    @ParameterizedTest
    @ValueSource(ints = {16384, 32768, 16383, 16385, 1})
    @Timeout(60)
    void exchangesEndingOnABufferBoundaryAreNotHeldBack(int size) throws Exception {
        try (ServerSocket echo = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread server = Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = echo.accept()) {
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream();
                    byte[] msg = new byte[size];
                    while (true) {
                        int n = 0;
                        while (n < size) {
                            int r = in.read(msg, n, size - n);
                            if (r < 0) return;
                            n += r;
                        }
                        out.write(msg);
                        out.flush();
                    }
                } catch (Exception e) {
                    // the client's close ends the exchange
                }
            });
            String[] args = {"--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + echo.getLocalPort(),
                    "--timeout-client", "30s", "--timeout-server", "30s"};
            try (Forwarder fw = Forwarder.start(CommandLine.parse(args).config(), m -> { })) {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), fw.boundAddresses().get(0).port()));
                    c.setSoTimeout(5000); // a held-back message shows up as a read timeout
                    Random rnd = new Random(size);
                    byte[] msg = new byte[size];
                    byte[] back = new byte[size];
                    long start = System.nanoTime();
                    for (int i = 0; i < 50; i++) {
                        rnd.nextBytes(msg);
                        c.getOutputStream().write(msg);
                        int n = 0;
                        while (n < size) {
                            int r = c.getInputStream().read(back, n, size - n);
                            if (r < 0) throw new AssertionError("EOF in exchange " + i);
                            n += r;
                        }
                        assertArrayEquals(msg, back, "exchange " + i);
                        Arrays.fill(back, (byte) 0);
                    }
                    long ms = (System.nanoTime() - start) / 1_000_000;
                    assertTrue(ms < 5000, "50 exchanges of " + size + " bytes took " + ms
                            + " ms: messages are being held back (MSG_MORE without a push)");
                }
            }
            server.join(5000);
        }
    }
}
