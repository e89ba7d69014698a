package org.forwarder.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Opens the file given to {@code -f}, refusing what is not a configuration before reading a byte:
 * directories, devices, FIFOs and sockets (opening a FIFO would block until a writer comes;
 * /dev/zero never ends) and files larger than {@link LineReader#MAX_BYTES}. The type is checked
 * with stat before the open, which leaves a window where the file could be swapped for a FIFO; the
 * file is the user's own configuration, and LineReader bounds whatever is read anyway.
 * Every refusal is one line: {@code NAME: reason}.
 */
final class ConfigFile {

    private ConfigFile() {}

    /** An open stream on {@code path}, a regular file of at most MAX_BYTES; {@code name} is how messages call it. */
    static InputStream open(Path path, String name) throws ConfigException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class);
        } catch (IOException e) {
            throw cannotRead(name, reason(e));
        }
        if (attrs.isDirectory()) throw cannotRead(name, "it is a directory");
        if (!attrs.isRegularFile()) throw cannotRead(name, "it is " + kind(path) + ", not a regular file");
        if (attrs.size() > LineReader.MAX_BYTES) {
            throw new ConfigException(name + ": configuration file too large: " + attrs.size() + " bytes, the limit is "
                    + LineReader.MAX_BYTES + " (4 MiB)");
        }
        try {
            return Files.newInputStream(path);
        } catch (IOException e) {
            throw cannotRead(name, reason(e));
        }
    }

    static ConfigException cannotRead(String name, String reason) {
        return new ConfigException(name + ": cannot read configuration file: " + reason);
    }

    /** What went wrong, in words, without the path (the message names it already). */
    static String reason(IOException e) {
        if (e instanceof NoSuchFileException) return "no such file";
        if (e instanceof AccessDeniedException) return "permission denied";
        String why = e instanceof FileSystemException fse ? fse.getReason() : e.getMessage();
        if (why == null || why.isBlank()) return "read error (" + e.getClass().getSimpleName() + ")";
        return Character.toLowerCase(why.charAt(0)) + why.substring(1);
    }

    /** "a FIFO (named pipe)", "a character device"...: the file type from st_mode. */
    private static String kind(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            return switch (mode & 0170000) {
                case 0010000 -> "a FIFO (named pipe)";
                case 0020000 -> "a character device";
                case 0060000 -> "a block device";
                case 0140000 -> "a socket";
                default -> "a special file";
            };
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException | ClassCastException e) {
            return "a special file";
        }
    }
}
