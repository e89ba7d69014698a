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
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The data path allocates nothing per event: once warm, moving 1 GiB (65,536 copy rounds of
 * recv + send, or thousands of splice rounds) costs the event-loop thread no Java heap beyond
 * noise. One 16-byte object per copy round would already be 1 MiB.
 *
 * <p>Why the bound is not zero: the JDK's downcall with captureCallState checks the capture
 * segment with an asSlice() (SharedUtils.checkCaptureSegment), which allocates until C2's escape
 * analysis removes it; JFR shows it as the only allocation on this thread (a few KB to tens of
 * KB per GiB, depending on how far compilation got). captureCallState itself is what makes errno
 * reliable, so it stays.
 */
class HotPathAllocationTest {
    private static final long WARM_UP = 1024L << 20;
    private static final long MEASURED = 1024L << 20;

    @ParameterizedTest
    @ValueSource(strings = {"copy", "splice"})
    @Timeout(120)
    void steadyForwardingAllocatesNothingPerEvent(String mode) throws Exception {
        try (ServerSocket sink = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            long[] received = new long[1];
            Thread sinkThread = Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = sink.accept(); InputStream in = s.getInputStream()) {
                    byte[] b = new byte[1 << 16];
                    int n;
                    while ((n = in.read(b)) > 0) {
                        synchronized (received) {
                            received[0] += n;
                            received.notifyAll();
                        }
                    }
                } catch (Exception e) {
                    // end of test
                }
            });
            List<String> args = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + sink.getLocalPort(),
                    "--timeout-client", "1m", "--timeout-server", "1m"));
            if (mode.equals("splice")) {
                args.add("--splice-request");
                args.add("--splice-response");
            }
            try (Forwarder fw = Forwarder.start(CommandLine.parse(args.toArray(String[]::new)).config(), m -> { })) {
                try (Socket c = new Socket()) {
                    c.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), fw.boundAddresses().get(0).port()), 5000);
                    OutputStream out = c.getOutputStream();
                    byte[] chunk = new byte[1 << 16];
                    send(out, chunk, WARM_UP, received, WARM_UP); // until the JIT has compiled the path
                    long passes0 = fw.stats().passes(); // (read on this thread: the loop allocates nothing for it)
                    long before = fw.pollerAllocatedBytes();
                    send(out, chunk, MEASURED, received, WARM_UP + MEASURED);
                    long allocated = fw.pollerAllocatedBytes() - before;
                    long passes = fw.stats().passes() - passes0;
                    String what = mode + ": the event loop allocated " + allocated + " bytes in " + passes
                            + " passes while forwarding " + MEASURED + " bytes";
                    assertTrue(passes > 100, what);
                    assertTrue(allocated < 256 * 1024, what);
                }
                synchronized (received) {
                    assertEquals(WARM_UP + MEASURED, received[0]);
                }
            }
            sinkThread.join(5000);
        }
    }

    /** Writes {@code bytes} and waits until the sink has seen {@code total} in all. */
    private static void send(OutputStream out, byte[] chunk, long bytes, long[] received, long total) throws Exception {
        for (long sent = 0; sent < bytes; sent += chunk.length) {
            out.write(chunk, 0, (int) Math.min(chunk.length, bytes - sent));
        }
        out.flush();
        synchronized (received) {
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (received[0] < total && System.nanoTime() < deadline) received.wait(100);
        }
    }
}
