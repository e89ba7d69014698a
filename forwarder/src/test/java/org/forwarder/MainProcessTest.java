package org.forwarder;

import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The forwarder as a user runs it: a separate JVM, its exit codes, its signals. */
class MainProcessTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static Process launch(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dforwarder.grace.ms=5000",
                "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    private static String output(Process p) throws Exception {
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return out;
    }

    @Test
    @Timeout(60)
    void helpVersionAndCheck(@TempDir Path dir) throws Exception {
        Process help = launch("--help");
        String text = output(help);
        assertEquals(0, help.exitValue());
        assertTrue(text.contains("--listen") && text.contains("-f FILE"), text);
        assertTrue(!text.contains("WARNING"), "no JVM warning: " + text);

        Path bad = dir.resolve("bad.cfg");
        Files.writeString(bad, "listen x\n    bind 127.0.0.1:0\n    balance source\n    server s 127.0.0.1:1\n");
        Process check = launch("-c", "-f", bad.toString());
        text = output(check);
        assertEquals(1, check.exitValue(), text);
        assertTrue(text.contains("bad.cfg:3"), text);

        Path good = dir.resolve("good.cfg");
        Files.writeString(good, "listen x\n    bind 127.0.0.1:0\n    timeout connect 1s\n    timeout client 1s\n"
                + "    timeout server 1s\n    server s 127.0.0.1:1\n");
        check = launch("-c", "-f", good.toString());
        text = output(check);
        assertEquals(0, check.exitValue(), text);

        Process noArgs = launch("--listen", "127.0.0.1:0");
        text = output(noArgs);
        assertEquals(1, noArgs.exitValue(), text);
    }

    private static final String VALID = "listen x\n    bind 127.0.0.1:0\n    timeout connect 1s\n    timeout client 1s\n"
            + "    timeout server 1s\n    server s 127.0.0.1:1\n";

    /** Creates DIR/NAME from the raw bytes of NAME, percent-encoded, whatever this JVM's own locale can encode. */
    private static Path rawName(Path dir, String percentEncoded) throws Exception {
        Path file = Path.of(java.net.URI.create(dir.toUri() + percentEncoded));
        Files.writeString(file, VALID);
        return file;
    }

    /**
     * Runs {@code Main -c -f BASE/NAME} in DIR with only {@code locale} set (LANG and LC_* removed, as
     * under systemd or in a bare container). NAME is passed as printf octal escapes through sh, so
     * its bytes reach the forwarder's argv unchanged, not re-encoded by this JVM.
     */
    private static Process checkInLocale(String locale, Path dir, String base, String printfName, boolean viaArgFile) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String script = viaArgFile
                // an @argfile holds Main's arguments: they never appear in /proc/self/cmdline
                ? "f=$(printf \"%s/" + printfName + "\" \"$1\"); printf '%s\\n' -cp \"\\\"$3\\\"\" \"$4\" -c -f \"\\\"$f\\\"\" > \"$1/args\"; "
                        + "exec \"$2\" --enable-native-access=ALL-UNNAMED \"@$1/args\""
                : "f=$(printf \"%s/" + printfName + "\" \"$1\"); exec \"$2\" --enable-native-access=ALL-UNNAMED -cp \"$3\" \"$4\" -c -f \"$f\"";
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", script, "sh", base, java,
                System.getProperty("java.class.path"), Main.class.getName()).redirectErrorStream(true).directory(dir.toFile());
        pb.environment().keySet().removeIf(k -> k.equals("LANG") || k.equals("LANGUAGE") || k.startsWith("LC_"));
        pb.environment().put("LC_ALL", locale);
        return pb.start();
    }

    /**
     * Under LC_ALL=C the JVM decodes argv as ASCII, so "café.cfg" arrives as "caf\uFFFD\uFFFD.cfg"
     * and Path.of threw InvalidPathException (a stack trace). The raw bytes are still in
     * /proc/self/cmdline: the file opens, here by a relative name (resolved under /proc/self/cwd).
     */
    @Test
    @Timeout(60)
    void nonAsciiFileNameOpensUnderTheCLocale(@TempDir Path dir) throws Exception {
        rawName(dir, "caf%C3%A9.cfg");
        Process check = checkInLocale("C", dir, ".", "caf\\303\\251.cfg", false);
        String text = output(check);
        assertEquals(0, check.exitValue(), text);
        assertEquals(List.of("Configuration file ./caf?.cfg is valid"), text.lines().toList());
        assertTrue(!text.contains("Exception") && !text.contains("\tat "), text);
    }

    /** A name that is not UTF-8 (Latin-1 "café") under a UTF-8 locale: decoded lossily, yet the file opens. */
    @Test
    @Timeout(60)
    void latin1FileNameOpensUnderAUtf8Locale(@TempDir Path dir) throws Exception {
        rawName(dir, "caf%E9.cfg");
        Process check = checkInLocale("C.UTF-8", dir, dir.toString(), "caf\\351.cfg", false);
        String text = output(check);
        assertEquals(0, check.exitValue(), text);
        assertTrue(text.contains(".cfg is valid"), text);
    }

    /** When the raw bytes cannot be found (arguments from an @argfile), one line says why and what to do. */
    @Test
    @Timeout(60)
    void unrepresentableFileNameIsOneClearLine(@TempDir Path dir) throws Exception {
        rawName(dir, "caf%C3%A9.cfg");
        Process check = checkInLocale("C", dir, dir.toString(), "caf\\303\\251.cfg", true);
        String text = output(check);
        assertEquals(1, check.exitValue(), text);
        assertEquals(List.of("'-f' '" + dir + "/caf??.cfg': this file name cannot be represented in the locale's encoding"
                        + " (sun.jnu.encoding=ANSI_X3.4-1968): run forwarder with a UTF-8 locale, e.g. LANG=C.UTF-8",
                "(forwarder --help lists the options)"), text.lines().toList());
    }

    /**
     * An unreadable file is one line. Root reads anything, so as root the check runs as user
     * nobody through setpriv (ConfigFileTest covers an ordinary user in-process).
     */
    @Test
    @Timeout(60)
    void unreadableFileIsOneLine(@TempDir Path dir) throws Exception {
        boolean root = "root".equals(System.getProperty("user.name"));
        Assumptions.assumeTrue(root && Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs root and setpriv");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path secret = dir.resolve("secret.cfg");
        Files.writeString(secret, VALID);
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("---------"));
        Process check = new ProcessBuilder("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "-c", "-f", secret.toString())
                .redirectErrorStream(true).start();
        String text = output(check);
        assertEquals(1, check.exitValue(), text);
        assertEquals(List.of(secret + ": cannot read configuration file: permission denied"), text.lines().toList());
    }

    /** SIGTERM: no new connections, the open one finishes its transfer, exit status 0. */
    @Test
    @Timeout(60)
    void sigtermLetsOpenStreamsFinishThenExitsZero() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 10, Peers.ECHO));
        Process fw = launch("--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + echo.port(),
                "--timeout-client", "30s", "--timeout-server", "30s");
        try {
            int port = listeningPort(fw.getInputStream());
            try (Socket c = Peers.connect(cleanup, port)) {
                c.setSoTimeout(10_000);
                byte[] first = "before the signal".getBytes(StandardCharsets.UTF_8);
                assertArrayEquals(first, Peers.exchange(c, first));

                fw.destroy(); // SIGTERM
                Thread.sleep(500);
                assertTrue(fw.isAlive(), "the open stream gets its grace period");
                try (Socket late = new Socket()) {
                    late.connect(new InetSocketAddress(Peers.LOOPBACK, port), 2000);
                    throw new AssertionError("a new connection was accepted after SIGTERM");
                } catch (IOException expected) {
                    // refused: the listener is closed
                }
                byte[] second = "after the signal".getBytes(StandardCharsets.UTF_8);
                assertArrayEquals(second, Peers.exchange(c, second), "the open stream still works");
            }
            assertTrue(fw.waitFor(15, TimeUnit.SECONDS), "exits once the stream is done");
            assertEquals(0, fw.exitValue());
        } finally {
            fw.destroyForcibly();
        }
    }

    /** Reads the start-up lines until the "listening on ADDR:PORT" one and returns the port. */
    private static int listeningPort(InputStream out) throws IOException {
        Pattern p = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
        StringBuilder seen = new StringBuilder();
        StringBuilder line = new StringBuilder();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        int ch;
        while (System.nanoTime() < deadline && (ch = out.read()) >= 0) {
            if (ch != '\n') {
                line.append((char) ch);
                continue;
            }
            seen.append(line).append('\n');
            Matcher m = p.matcher(line);
            if (m.find()) {
                // keep draining the pipe so the process never blocks on a full stdout
                Thread.ofPlatform().daemon().start(() -> {
                    try {
                        out.transferTo(OutputStream.nullOutputStream());
                    } catch (IOException e) {
                        // process ended
                    }
                });
                return Integer.parseInt(m.group(1));
            }
            line.setLength(0);
        }
        throw new AssertionError("the forwarder did not say where it listens:\n" + seen);
    }
}
