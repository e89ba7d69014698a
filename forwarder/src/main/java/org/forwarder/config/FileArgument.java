package org.forwarder.config;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns the {@code -f} argument into a Path, even when the JVM could not decode its name.
 *
 * <p>Why: the launcher decodes argv with sun.jnu.encoding, which follows the locale. With LANG
 * unset or LC_ALL=C (systemd units, bare containers) that is ASCII, so "café.cfg" arrives as
 * "caf\uFFFD\uFFFD.cfg", which Path.of refuses; under a UTF-8 locale a Latin-1 name arrives
 * with U+FFFD too and names a file that does not exist. The kernel still holds the bytes as they
 * were given, in /proc/self/cmdline. They are used only when that file verifiably holds this
 * main's arguments (its last entries decode to exactly {@code args}; not so for arguments read
 * from an @argfile, or when called from a test). A Path is then built from the bytes through a
 * file: URI with every byte percent-encoded, which the JDK's Unix file system maps back to the
 * exact bytes; a relative name is taken under /proc/self/cwd, the process's working directory,
 * since user.dir went through the same lossy decoding. Without the bytes, the error says what to
 * do instead of letting InvalidPathException out.
 */
final class FileArgument {

    /** The path to open, and the name to show in messages (the bytes as UTF-8 when recovered). */
    record Resolved(Path path, String name) {}

    /** Reads the raw arguments of the running process; null when they cannot be had. */
    interface RawArgs {
        byte[][] of(String[] args);
    }

    private FileArgument() {}

    /**
     * The path for {@code args[index]}, the value of {@code -f}.
     *
     * @throws IllegalArgumentException with the reason when it cannot be a path
     */
    static Resolved resolve(String[] args, int index, RawArgs raw) {
        String value = args[index];
        if (value.isEmpty()) throw new IllegalArgumentException("is empty: expected the configuration file");
        boolean lossy = value.indexOf('\uFFFD') >= 0;
        if (lossy) {
            byte[][] bytes = raw.of(args);
            Path recovered = bytes == null ? null : fromBytes(bytes[index]);
            if (recovered != null) return new Resolved(recovered, new String(bytes[index], StandardCharsets.UTF_8));
            String jnu = System.getProperty("sun.jnu.encoding", "?");
            boolean utf8 = Charset.isSupported(jnu) && Charset.forName(jnu).equals(StandardCharsets.UTF_8);
            throw new IllegalArgumentException("this file name cannot be represented in the locale's encoding (sun.jnu.encoding="
                    + jnu + "): " + (utf8 ? "rename the file to a UTF-8 name" : "run forwarder with a UTF-8 locale, e.g. LANG=C.UTF-8"));
        }
        try {
            return new Resolved(Path.of(value), value);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException("not a valid file name (" + e.getReason() + ")");
        }
    }

    /** The path with exactly these bytes as its name, or null if the JDK will not build one. */
    static Path fromBytes(byte[] name) {
        if (name.length == 0) return null;
        StringBuilder uri = new StringBuilder("file://");
        if (name[0] != '/') uri.append("/proc/self/cwd/");
        for (byte b : name) {
            int c = b & 0xff;
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "/-._~".indexOf(c) >= 0) {
                uri.append((char) c);
            } else {
                uri.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        try {
            return Path.of(URI.create(uri.toString()));
        } catch (IllegalArgumentException | java.nio.file.FileSystemNotFoundException e) {
            return null;
        }
    }

    /** This process's arguments from /proc/self/cmdline, if its last entries are exactly {@code args}; else null. */
    static byte[][] fromProc(String[] args) {
        byte[] cmdline;
        try {
            cmdline = Files.readAllBytes(Path.of("/proc/self/cmdline"));
        } catch (IOException | RuntimeException e) {
            return null;
        }
        List<byte[]> entries = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < cmdline.length; i++) {
            if (cmdline[i] == 0) {
                entries.add(Arrays.copyOfRange(cmdline, start, i));
                start = i + 1;
            }
        }
        if (start < cmdline.length) entries.add(Arrays.copyOfRange(cmdline, start, cmdline.length));
        if (entries.size() < args.length) return null;
        Charset jnu;
        try {
            jnu = Charset.forName(System.getProperty("sun.jnu.encoding"));
        } catch (RuntimeException e) {
            return null;
        }
        byte[][] tail = entries.subList(entries.size() - args.length, entries.size()).toArray(byte[][]::new);
        for (int i = 0; i < args.length; i++) {
            // the launcher decodes each argument with sun.jnu.encoding; the same decoding must give the same string
            if (!new String(tail[i], jnu).equals(args[i])) return null;
        }
        return tail;
    }
}
