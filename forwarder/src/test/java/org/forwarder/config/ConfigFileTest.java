package org.forwarder.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * What -f does with files that are not a configuration: too big, not regular, not text. Each
 * gives exactly one line, through the same entry point as {@code -c -f FILE}, and never blocks.
 */
class ConfigFileTest {

    /** The documented bounds (README, configuration section). */
    private static final long MAX_BYTES = 4L << 20;
    private static final int MAX_LINE_BYTES = 2048;

    private static final String GOOD = "listen a\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n";

    /** The errors of {@code -c -f file}: the command line path the user takes. */
    private static List<String> errors(Path file) {
        return assertThrows(ConfigException.class, () -> CommandLine.parse(new String[] {"-c", "-f", file.toString()}).config())
                .errors();
    }

    private static Path write(Path dir, String name, byte[] content) throws IOException {
        Path file = dir.resolve(name);
        Files.write(file, content);
        return file;
    }

    /** A 3 GiB file is refused from its size, before reading a byte of it (a sparse file: nothing is written). */
    @Test
    @Timeout(10)
    void hugeFileIsRefusedBeforeReading(@TempDir Path dir) throws Exception {
        Path big = dir.resolve("big.cfg");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(3L << 30);
        }
        assertEquals(List.of(big + ": configuration file too large: 3221225472 bytes, the limit is 4194304 (4 MiB)"), errors(big));
    }

    @Test
    void fileJustOverTheLimitIsRefused(@TempDir Path dir) throws Exception {
        Path big = dir.resolve("big.cfg");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(MAX_BYTES + 1);
        }
        assertEquals(List.of(big + ": configuration file too large: 4194305 bytes, the limit is 4194304 (4 MiB)"), errors(big));
    }

    @Test
    void fileAtTheLimitIsRead(@TempDir Path dir) throws Exception {
        // GOOD, then comment lines up to exactly the limit
        StringBuilder sb = new StringBuilder(GOOD).append("    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n");
        String comment = "#".repeat(1023) + "\n";
        while (sb.length() + comment.length() <= MAX_BYTES) sb.append(comment);
        sb.append("#".repeat((int) (MAX_BYTES - sb.length() - 1))).append('\n');
        assertEquals(MAX_BYTES, sb.length());
        Path file = write(dir, "full.cfg", sb.toString().getBytes(StandardCharsets.US_ASCII));
        assertDoesNotThrow(() -> CommandLine.parse(new String[] {"-c", "-f", file.toString()}).config());
    }

    /** /dev/zero never ends: it must be refused, not read until the heap runs out. */
    @Test
    @Timeout(10)
    void devZeroIsRefused() {
        assertEquals(List.of("/dev/zero: cannot read configuration file: it is a character device, not a regular file"),
                errors(Path.of("/dev/zero")));
    }

    /** Opening a FIFO for reading blocks until a writer comes: it must be refused without opening it. */
    @Test
    @Timeout(20)
    void fifoIsRefusedWithoutBlocking(@TempDir Path dir) throws Exception {
        Path fifo = dir.resolve("fifo.cfg");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertTrue(mk.waitFor(10, TimeUnit.SECONDS) && mk.exitValue() == 0, "mkfifo");
        List<String>[] got = new List[1];
        Thread t = Thread.ofPlatform().daemon().start(() -> got[0] = errors(fifo));
        t.join(5_000);
        if (t.isAlive()) {
            // release the reader so the test JVM does not keep a blocked thread, then fail
            try (OutputStream out = Files.newOutputStream(fifo)) {
                out.write('x');
            }
            t.join(5_000);
            throw new AssertionError("-f on a FIFO blocked");
        }
        assertEquals(List.of(fifo + ": cannot read configuration file: it is a FIFO (named pipe), not a regular file"), got[0]);
    }

    @Test
    void directoryIsRefused(@TempDir Path dir) {
        assertEquals(List.of(dir + ": cannot read configuration file: it is a directory"), errors(dir));
    }

    @Test
    void missingFileAndMissingDirectory(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.cfg");
        assertEquals(List.of(missing + ": cannot read configuration file: no such file"), errors(missing));
        Path file = write(dir, "plain", GOOD.getBytes(StandardCharsets.US_ASCII));
        Path under = file.resolve("x.cfg");
        assertEquals(List.of(under + ": cannot read configuration file: no such file"), errors(under));
    }

    /** Root reads anything, so this runs only as an ordinary user; ConfigFile.reason is checked directly below. */
    @Test
    void unreadableFileIsRefused(@TempDir Path dir) throws Exception {
        Path file = write(dir, "secret.cfg", GOOD.getBytes(StandardCharsets.US_ASCII));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("---------"));
        assumeFalse(Files.isReadable(file), "running as root: permissions do not stop reading");
        assertEquals(List.of(file + ": cannot read configuration file: permission denied"), errors(file));
    }

    @Test
    void ioErrorsAreNamedPlainly() {
        assertEquals("permission denied", ConfigFile.reason(new java.nio.file.AccessDeniedException("/x")));
        assertEquals("no such file", ConfigFile.reason(new java.nio.file.NoSuchFileException("/x")));
        assertEquals("too many levels of symbolic links",
                ConfigFile.reason(new java.nio.file.FileSystemException("/x", null, "Too many levels of symbolic links")));
        assertEquals("input/output error", ConfigFile.reason(new IOException("Input/output error")));
    }

    /** HAProxy stops at the first NUL byte ("Stray NUL character"); so does forwarder, naming the line and column. */
    @Test
    void nulByteStopsReadingWithOneError(@TempDir Path dir) throws Exception {
        Path file = write(dir, "nul.cfg", "listen a\n    bind 127.0.0.1:1\0\n    server s\0 127.0.0.1:2\n".getBytes(StandardCharsets.US_ASCII));
        assertEquals(List.of(file + ":2: NUL byte at column 21: this is not a text file; stopped reading here"), errors(file));
    }

    /** A binary file is one line too, not one error per line of garbage. */
    @Test
    void binaryFileIsOneError() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> e = errors(java);
        assertEquals(1, e.size(), e.toString());
        assertTrue(e.getFirst().startsWith(java + ":1: NUL byte at column "), e.getFirst());
    }

    @Test
    void invalidUtf8OutsideCommentsIsOneErrorPerLine(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes("listen a # caf".getBytes(StandardCharsets.US_ASCII));
        b.write(0xE9);                                     // Latin-1 in a comment: fine, as in HAProxy
        b.writeBytes("\n    bind 127.0.0.1:1\n    server s".getBytes(StandardCharsets.US_ASCII));
        b.write(0xE9);                                     // Latin-1 in a name: not UTF-8
        b.writeBytes(" 127.0.0.1:2\n    timeout client 1s\n    timeout server \"5".getBytes(StandardCharsets.US_ASCII));
        b.write(0xC3);                                     // truncated sequence inside quotes
        b.writeBytes("\"\n".getBytes(StandardCharsets.US_ASCII));
        Path file = write(dir, "latin1.cfg", b.toByteArray());
        assertEquals(List.of(
                file + ":3: invalid UTF-8 at column 13 (byte 0xE9): the configuration must be UTF-8 text",
                file + ":5: invalid UTF-8 at column 22 (byte 0xC3): the configuration must be UTF-8 text"), errors(file));
    }

    @Test
    void validUtf8IsReadAsSuch(@TempDir Path dir) throws Exception {
        Path file = write(dir, "utf8.cfg", ("listen a # café ☕\n    bind 127.0.0.1:1\n    server é 127.0.0.1:2\n")
                .getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of(file + ":3: 'server' name 'é' contains 'é': use letters, digits, '-', '_', '.' and ':'"), errors(file));
    }

    /** Lines are bounded like HAProxy's historical LINESIZE: 2048 bytes, the line end (LF or CRLF) not counted. */
    @Test
    void longLinesAreRefusedOneErrorEach(@TempDir Path dir) throws Exception {
        String ok = "    # " + "x".repeat(MAX_LINE_BYTES - 6) + "\n";
        assertEquals(MAX_LINE_BYTES + 1, ok.length());
        String tooLong = "    server s 127.0.0.1:2 # " + "y".repeat(3000) + "\r\n";
        String text = "listen a\n" + ok + "    bind 127.0.0.1:1\n" + tooLong + "    timeout client " + "9".repeat(5000) + "\n";
        Path file = write(dir, "long.cfg", text.getBytes(StandardCharsets.US_ASCII));
        // the long server line is skipped, so "no server" is not reported on top of it
        assertEquals(List.of(
                file + ":4: line too long: 3027 bytes, the limit is 2048",
                file + ":5: line too long: 5019 bytes, the limit is 2048"), errors(file));
    }

    @Test
    void longLineInTextParsedDirectly() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen a\n" + "#".repeat(2049) + "\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n", "t.cfg"));
        assertEquals(List.of("t.cfg:2: line too long: 2049 bytes, the limit is 2048"), e.errors());
    }

    @Test
    void emptyFileSaysThereIsNothingToForward(@TempDir Path dir) throws Exception {
        Path file = write(dir, "empty.cfg", new byte[0]);
        assertEquals(List.of(file + ": no 'listen' or 'frontend' section: there is nothing to forward"), errors(file));
        assertFalse(errors(file).getFirst().contains("\n"));
    }
}
