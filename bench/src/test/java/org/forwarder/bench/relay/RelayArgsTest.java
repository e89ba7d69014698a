package org.forwarder.bench.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The relays' command line, and their life as processes: READY, exit 2 on bad flags, SIGTERM. */
class RelayArgsTest {
    private static String[] argv(String s) {
        return s.split(" ");
    }

    @Test
    void parsesAFullCommandLine() throws Exception {
        RelayArgs a = RelayArgs.parse(argv("--listen 127.0.0.1:0 --connect 127.0.0.1:9 --threads 2 --splice"), true);
        assertEquals(0, a.listen().getPort());
        assertEquals(9, a.connect().getPort());
        assertEquals(2, a.threads());
        assertTrue(a.splice());
        RelayArgs d = RelayArgs.parse(argv("--connect 127.0.0.1:9 --listen 127.0.0.1:5000"), false);
        assertEquals(1, d.threads());
        assertFalse(d.splice());
    }

    @Test
    void rejectsWhatItCannotRun() {
        String[][] bad = {
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:9 --fast", "unknown flag --fast"},
                {"--listen 127.0.0.1:0 --listen 127.0.0.1:1 --connect 127.0.0.1:9", "--listen given twice"},
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:9 --threads 1 --threads 2", "--threads given twice"},
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:9 --splice --splice", "--splice given twice"},
                {"--listen 10.0.0.1:80 --connect 127.0.0.1:9", "--listen 10.0.0.1:80: not a loopback address"},
                {"--listen 127.0.0.1:0", "--connect is required"},
                {"--connect 127.0.0.1:9", "--listen is required"},
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:0", "--connect 127.0.0.1:0: port must be 1..65535"},
                {"--listen 127.0.0.1:0 --connect localhost:9", "--connect localhost:9: the address must be a numeric IP"},
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:9 --threads 0", "--threads 0: must be 1..64"},
                {"--listen 127.0.0.1:0 --connect 127.0.0.1:9 --threads", "--threads needs a value"},
        };
        for (String[] c : bad) {
            RelayArgs.UsageException e = assertThrows(RelayArgs.UsageException.class, () -> RelayArgs.parse(argv(c[0]), true), c[0]);
            assertEquals(c[1], e.getMessage());
        }
        RelayArgs.UsageException e = assertThrows(RelayArgs.UsageException.class,
                () -> RelayArgs.parse(argv("--listen 127.0.0.1:0 --connect 127.0.0.1:9 --splice"), false));
        assertEquals("unknown flag --splice", e.getMessage());
    }

    private static Process launch(String mainClass, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).start();
    }

    @ParameterizedTest
    @ValueSource(strings = {"org.forwarder.bench.relay.NioRelay", "org.forwarder.bench.relay.NettyRelay"})
    @Timeout(30)
    void badFlagIsOneLineAndExitTwo(String mainClass) throws Exception {
        Process p = launch(mainClass, argv("--listen 127.0.0.1:0 --connect 127.0.0.1:9 --nope"));
        try {
            assertTrue(p.waitFor(20, TimeUnit.SECONDS));
            assertEquals(2, p.exitValue());
            String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            String simple = mainClass.substring(mainClass.lastIndexOf('.') + 1);
            assertEquals(simple + ": unknown flag --nope\n", err);
        } finally {
            p.destroyForcibly();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"org.forwarder.bench.relay.NioRelay", "org.forwarder.bench.relay.NettyRelay"})
    @Timeout(30)
    void printsReadyAndStopsOnSigtermWithinTwoSeconds(String mainClass) throws Exception {
        try (TestServer backend = new TestServer(TestServer.Mode.SEND_AFTER_EOF, 10)) {
            Process p = launch(mainClass, argv("--listen 127.0.0.1:0 --connect 127.0.0.1:" + backend.port()));
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
                String ready = out.readLine();
                assertTrue(ready != null && ready.matches("READY [0-9]+"), "first line: " + ready);
                int port = Integer.parseInt(ready.substring(6));
                // an open relayed connection must not hold the stop up
                try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                    s.getOutputStream().write(1);
                    p.destroy(); // SIGTERM
                    long t0 = System.nanoTime();
                    assertTrue(p.waitFor(2, TimeUnit.SECONDS), "still running 2 s after SIGTERM");
                    assertTrue(System.nanoTime() - t0 < 2_000_000_000L);
                }
            } finally {
                p.destroyForcibly();
            }
        }
    }
}
