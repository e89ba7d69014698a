package org.forwarder.it;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real database server from the machine's packages (redis-server, PostgreSQL 15, MariaDB),
 * run by a test as its own child process on 127.0.0.1 with its data in a fresh temporary
 * directory: started, waited for (its port accepts), stopped by its PID (SIGTERM, then SIGKILL
 * if it lingers), its directory removed. PostgreSQL refuses to run as root, so as root it runs
 * as {@code nobody} through {@code setpriv}, in a directory that user owns. A test on a machine
 * without the package is skipped, saying which program is missing.
 */
final class LocalService implements AutoCloseable {
    static final Path PG_BIN = Path.of("/usr/lib/postgresql/15/bin");

    private final String name;
    private final Path dir;
    private final int port;
    private Process process;

    private LocalService(String name, Path dir, int port) {
        this.name = name;
        this.dir = dir;
        this.port = port;
    }

    int port() { return port; }

    Path dir() { return dir; }

    /** Skips the test when {@code program} is not installed. */
    static void assumeInstalled(Path program, String pkg) {
        Assumptions.assumeTrue(Files.isExecutable(program),
                program + " is not installed (Debian package " + pkg + "; .ci/run installs it)");
    }

    static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    /** A directory for one server; for PostgreSQL as root, owned by nobody. */
    static LocalService prepare(String name) throws IOException {
        Path dir = Files.createTempDirectory("fwd-" + name + "-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        return new LocalService(name, dir, Peers.deadPort());
    }

    /** Hands the directory to {@code nobody} (PostgreSQL as root); its parent /tmp is world-searchable. */
    void giveToNobody() throws Exception {
        run(Duration.ofSeconds(10), List.of("chown", "nobody:nogroup", dir.toString()));
    }

    /** {@code cmd} prefixed to run as nobody when the test runs as root. */
    static List<String> asPostgresUser(List<String> cmd) {
        if (!root()) return cmd;
        List<String> all = new ArrayList<>(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"));
        all.addAll(cmd);
        return all;
    }

    /** Runs a setup command to its end, its output in {@code dir}/setup.log; fails the test if it fails. */
    void run(Duration max, List<String> cmd) throws Exception {
        Path log = dir.resolve("setup-" + System.nanoTime() + ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            if (!p.waitFor(max.toMillis(), TimeUnit.MILLISECONDS)) throw new AssertionError(cmd + " did not end within " + max);
            if (p.exitValue() != 0) throw new AssertionError(cmd + " failed (" + p.exitValue() + "):\n" + Files.readString(log));
        } finally {
            p.destroyForcibly();
        }
    }

    /** Starts the server and waits until its port accepts (or it died: the test fails with its log). */
    void start(List<String> cmd) throws Exception {
        Path log = dir.resolve(name + ".log");
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long end = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < end) {
            if (!process.isAlive()) throw new AssertionError(name + " exited (" + process.exitValue() + "):\n" + Files.readString(log));
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(Peers.LOOPBACK, port), 200);
                return;
            } catch (IOException notYet) {
                Peers.sleep(50);
            }
        }
        throw new AssertionError(name + " did not listen on " + port + " within 20 s:\n" + Files.readString(log));
    }

    /** Stops the server (its PID only) and waits for its end: its port refuses from then on. */
    void stop() throws InterruptedException {
        if (process == null) return;
        ProcessHandle h = process.toHandle();
        List<ProcessHandle> children = h.descendants().toList();
        h.destroy();
        if (!process.waitFor(15, TimeUnit.SECONDS)) {
            h.destroyForcibly();
            process.waitFor(5, TimeUnit.SECONDS);
        }
        // a server's own helpers (PostgreSQL's backends) end with it; any left are ours to end
        for (ProcessHandle c : children) if (c.isAlive()) c.destroyForcibly();
        process = null;
    }

    @Override
    public void close() throws Exception {
        try {
            stop();
        } finally {
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
            }
        }
    }
}
