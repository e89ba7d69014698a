package org.forwarder.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/** A stats socket client as {@code echo "cmd" | socat stdio unix-connect:PATH} is: send, read to the close. */
final class CliClient {
    private CliClient() {}

    /** Sends {@code lines} (each command ends with a newline) and returns everything answered until the close. */
    static String ask(Path sock, String lines) throws IOException {
        try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            c.connect(UnixDomainSocketAddress.of(sock));
            ByteBuffer b = ByteBuffer.wrap(lines.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) c.write(b);
            c.configureBlocking(false);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(65536);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < deadline) {
                in.clear();
                int n = c.read(in);
                if (n < 0) return out.toString(StandardCharsets.UTF_8);
                if (n == 0) {
                    Peers.sleep(2);
                    continue;
                }
                out.write(in.array(), 0, n);
            }
            throw new AssertionError("the CLI did not close within 10 s; got so far: " + out);
        }
    }
}
