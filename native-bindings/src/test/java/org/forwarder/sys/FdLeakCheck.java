package org.forwarder.sys;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fails a test that leaves file descriptors open: the entries of {@code /proc/self/fd} are
 * counted (and their link targets recorded) before each test and compared after it.
 *
 * <p>The only descriptors forgiven are ones the JVM itself may open lazily and keep (a jar on
 * the class path opened when a class is first loaded from it, the runtime image, the entropy
 * devices of the security providers); every socket, pipe, epoll or eventfd left behind fails the
 * test with its number and target.
 */
public final class FdLeakCheck implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(FdLeakCheck.class);
    private static final Path FD_DIR = Path.of("/proc/self/fd");

    static {
        // Let the JDK open, once and for good, what it otherwise opens lazily in the middle of the
        // first test that needs it: the security providers' /dev/random and /dev/urandom (NativePRNG,
        // loaded by MessageDigest and SecureRandom), the management beans, the resolver.
        try {
            java.security.MessageDigest.getInstance("SHA-256");
            new java.security.SecureRandom().nextBytes(new byte[8]);
            java.lang.management.ManagementFactory.getThreadMXBean();
            java.net.InetAddress.getByName("localhost");
        } catch (Exception e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        context.getStore(NS).put("before", snapshot());
    }

    @Override
    public void afterEach(ExtensionContext context) {
        @SuppressWarnings("unchecked")
        Map<Integer, String> before = (Map<Integer, String>) context.getStore(NS).remove("before");
        if (before == null) return;
        Map<Integer, String> after = snapshot();
        if (after.size() == before.size() && after.equals(before)) return;

        StringBuilder leaked = new StringBuilder();
        StringBuilder closed = new StringBuilder();
        for (Map.Entry<Integer, String> e : after.entrySet()) {
            String was = before.get(e.getKey());
            if (!e.getValue().equals(was) && !jvmOwned(e.getValue())) {
                leaked.append("\n  fd ").append(e.getKey()).append(" -> ").append(e.getValue());
            }
        }
        for (Map.Entry<Integer, String> e : before.entrySet()) {
            String now = after.get(e.getKey());
            if (!e.getValue().equals(now) && !jvmOwned(e.getValue())) {
                closed.append("\n  fd ").append(e.getKey()).append(" -> ").append(e.getValue());
            }
        }
        if (!leaked.isEmpty() || !closed.isEmpty()) {
            fail("/proc/self/fd had " + before.size() + " entries before " + context.getDisplayName()
                    + " and " + after.size() + " after"
                    + (leaked.isEmpty() ? "" : "; left open:" + leaked)
                    + (closed.isEmpty() ? "" : "; closed (not ours to close):" + closed));
        }
    }

    /** Descriptors the JVM opens on its own and keeps: class path jars, the runtime image, entropy. */
    private static boolean jvmOwned(String target) {
        return target.endsWith(".jar") || target.endsWith("/lib/modules")
                || target.equals("/dev/random") || target.equals("/dev/urandom");
    }

    /** The open descriptors of this process: fd number to link target. */
    public static Map<Integer, String> snapshot() {
        Map<Integer, String> fds = new TreeMap<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(FD_DIR)) {
            for (Path p : dir) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // closed while we looked (e.g. the directory stream's own fd)
                }
                if (target.startsWith("/proc/") && target.endsWith("/fd")) continue; // this listing
                fds.put(Integer.parseInt(p.getFileName().toString()), target);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + FD_DIR, e);
        }
        return fds;
    }

    /** The number of open descriptors, excluding the one used to count them. */
    public static int count() {
        return snapshot().size();
    }
}
