package org.forwarder.it;

import org.forwarder.Main;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Pattern;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Big pipes against the kernel's per-user pipe limit (fs.pipe-user-pages-soft), with the forwarder
 * in its own JVM under a user of its own and without CAP_SYS_RESOURCE/CAP_SYS_ADMIN, as in a
 * default container. (Run as root it would be exempt, and the budget would be shared with every
 * other root process on the machine.) 200 spliced streams whose clients do not read hold a full
 * pipe each; then they read everything; then one fast transfer must splice through a large pipe.
 *
 * <p>The pipes are looked at from outside: the child's /proc/PID/fd links named {@code pipe:[N]},
 * each opened (O_RDONLY|O_NONBLOCK) for F_GETPIPE_SZ and FIONREAD, so nothing depends on timing.
 */
class PipeBudgetProcessTest {
    private static final int STREAMS = 200;
    private static final long FAST_SIZE = 128L << 20;
    private static final int MIB = 1 << 20;
    /** A new pipe's size (16 slots); past the user's limit new pipes get 2 slots (8 KiB). */
    private static final int KERNEL_PIPE = 65536;
    /** Idle pipes the pool keeps (PipePool.MAX_IDLE). */
    private static final int MAX_IDLE = 2;

    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    /** Default budget: without tune.pipes.memory no pipe ever falls to 8 KiB, and the idle ones are closed. */
    @Test
    @Timeout(90)
    void manySlowStreamsStayWithinTheUsersPipeLimitThenAFastOneGetsALargePipe() throws Exception {
        Outcome run = scenario("");
        Child fw = run.fw;
        Map<Long, Pipe> held = run.held;
        long small = held.values().stream().filter(p -> p.size < KERNEL_PIPE).count();
        long largeBytes = held.values().stream().filter(p -> p.size > KERNEL_PIPE).mapToLong(p -> p.size).sum();
        String seen = "pipes held by " + STREAMS + " unread streams: " + histogram(held);
        assertTrue(held.size() > 64, "the streams hold more pipes than 64 of 1 MiB would fit in the limit: " + seen);
        assertEquals(0, small, "a pipe got fewer than the kernel's 16 slots: the user went over its limit; " + seen);
        assertTrue(largeBytes > 0 && largeBytes <= defaultBudget(), "large pipes within the default budget of "
                + defaultBudget() + " bytes: " + seen);
        String summary = fw.stop();
        assertEquals(0, counter(summary, "resize refused \\(EPERM\\) (\\d+)"), summary);
        assertTrue(counter(summary, "left small \\(budget\\) (\\d+)") > 0, "the budget applied: " + summary);
        assertTrue(counter(summary, "surplus closed (\\d+)") >= STREAMS - MAX_IDLE, summary);
    }

    /** A budget above the kernel's limit meets EPERM: warned once, and splicing recovers large pipes. */
    @Test
    @Timeout(90)
    void aBudgetAboveTheKernelLimitMeetsEpermAndRecovers() throws Exception {
        String summary = scenario("    tune.pipes.memory 1g\n").fw.stop();
        assertTrue(counter(summary, "resize refused \\(EPERM\\) (\\d+)") >= 1,
                "without CAP_SYS_RESOURCE the kernel must refuse pipes past its limit: " + summary);
        long warnings = summary.lines().filter(l -> l.contains("refused to enlarge a pipe")).count();
        assertEquals(1, warnings, "the refusal is logged once: " + summary);
        assertTrue(summary.contains("fs.pipe-user-pages-soft"), "the warning names the sysctl: " + summary);
    }

    /**
     * Starts the forwarder (global {@code extraGlobal}), holds {@value #STREAMS} spliced streams
     * unread, drains them, checks that the pipes went back, then runs one fast transfer through a
     * large pipe. Returns the running child for the scenario's own checks.
     */
    private Outcome scenario(String extraGlobal) throws Exception {
        int slowSize = (int) Math.max(4 * MIB, tcpWmemMax()) + MIB; // more than the sockets buffer: pipes stay full
        byte[] slow = Pattern.bytes(31, slowSize);
        String slowSha = Peers.sha(slow);
        TestServer srv = cleanup.add(new TestServer("slow-and-fast", 1024, (s, i) -> {
            int mode = s.getInputStream().read();
            OutputStream out = s.getOutputStream();
            if (mode == 'f') Peers.writePattern(out, 32, FAST_SIZE);
            else out.write(slow);
        }));
        Child fw = cleanup.add(Child.start("""
                global
                    maxconn 1000
                    nbthread 1
                %s
                listen pipes
                    mode tcp
                    bind 127.0.0.1:0
                    timeout connect 5s
                    timeout client 60s
                    timeout server 60s
                    option splice-response
                    server s1 127.0.0.1:%d
                """.formatted(extraGlobal, srv.port())));
        int baseline = fw.pipes().size(); // the JVM's own

        // 1. every stream fills its pipe while nobody reads
        List<Socket> clients = new ArrayList<>();
        for (int i = 0; i < STREAMS; i++) {
            Socket c = new Socket();
            cleanup.add(c);
            Peers.connect(c, fw.port);
            c.getOutputStream().write('s');
            clients.add(c);
        }
        Peers.waitUntil("every stream holds a pipe", Duration.ofSeconds(20),
                () -> fw.pipes().size() >= baseline + STREAMS, () -> fw.output());
        Map<Long, Pipe> held = fw.pipes();
        assertTrue(held.size() <= baseline + STREAMS + MAX_IDLE, "bounded by the streams: " + histogram(held));

        // 2. the clients read everything, byte-exact
        List<Thread> readers = new ArrayList<>();
        List<String> got = new CopyOnWriteArrayList<>();
        for (Socket c : clients) {
            readers.add(Thread.ofVirtual().start(() -> {
                Peers.Checker check = new Peers.Checker(31);
                try (c) {
                    check.readAll(c.getInputStream());
                    got.add(check.count + " bytes, first mismatch " + check.firstMismatch + ", " + check.sha());
                } catch (IOException e) {
                    got.add(e.toString());
                }
            }));
        }
        for (Thread t : readers) assertTrue(t.join(Duration.ofSeconds(60)), "a slow reader did not finish");
        String expected = slowSize + " bytes, first mismatch -1, " + slowSha;
        for (String result : got) assertEquals(expected, result);
        boolean back = Peers.await(Duration.ofSeconds(5), () -> fw.pipes().size() <= baseline + MAX_IDLE);
        assertTrue(back, "after the streams ended, only " + MAX_IDLE + " idle pipes may stay open; the child has "
                + (fw.pipes().size() - baseline) + " pipes (" + 2 * (fw.pipes().size() - baseline) + " fds)");

        // 3. one fast transfer. Its client first lets everything fill up, then reads in steps: each step lets the
        // forwarder splice again from a server socket holding megabytes, so a pipe shows how much one splice may move
        try (Socket c = Peers.connect(cleanup, fw.port)) {
            c.getOutputStream().write('f');
            Peers.waitUntil("the fast stream stalls with bytes in its pipe", Duration.ofSeconds(10),
                    () -> fw.pipes().values().stream().anyMatch(p -> p.bytes > 0), fw::output);
            InputStream in = c.getInputStream();
            Peers.Checker check = new Peers.Checker(32);
            byte[] b = new byte[256 << 10];
            Pipe full = null;
            int n;
            while ((n = in.read(b)) >= 0) {
                check.update(b, 0, n);
                for (Pipe p : full == null ? fw.pipes().values() : List.<Pipe>of()) {
                    if (p.bytes > KERNEL_PIPE) full = p;
                }
            }
            assertEquals(FAST_SIZE, check.count);
            assertEquals(-1, check.firstMismatch);
            assertEquals(Pattern.sha(32, FAST_SIZE), check.sha());
            assertTrue(full != null, "the fast stream never had more than " + KERNEL_PIPE + " bytes in a pipe:"
                    + " it did not splice through a large pipe");
            assertTrue(full.size >= MIB, "large pipe: " + full);
        }
        return new Outcome(fw, held);
    }

    /** The running child after a scenario, and its pipes while the slow streams held them. */
    record Outcome(Child fw, Map<Long, Pipe> held) {}

    private static long defaultBudget() throws IOException {
        long soft = Long.parseLong(proc(Path.of("/proc/sys/fs/pipe-user-pages-soft")).trim());
        return soft > 0 ? Math.min(32L * MIB, soft * 4096 / 2) : 32L * MIB;
    }

    private static long tcpWmemMax() throws IOException {
        String[] f = proc(Path.of("/proc/sys/net/ipv4/tcp_wmem")).trim().split("\\s+");
        return Long.parseLong(f[2]);
    }

    /** A procfs file, read to its end (procfs reports a size of 0). */
    static String proc(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static long counter(String text, String regex) {
        Matcher m = java.util.regex.Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no '" + regex + "' in:\n" + text);
        return Long.parseLong(m.group(1));
    }

    private static String histogram(Map<Long, Pipe> pipes) {
        Map<Integer, Integer> bySize = new java.util.TreeMap<>();
        for (Pipe p : pipes.values()) bySize.merge(p.size, 1, Integer::sum);
        return pipes.size() + " pipes, count by size " + bySize;
    }

    /** One pipe of the child: its size and the bytes in it when looked at. */
    record Pipe(long inode, int size, int bytes) {}

    /** The forwarder in a JVM of its own, as another user and without capabilities. */
    static final class Child implements AutoCloseable {
        private static final Linker LINKER = Linker.nativeLinker();
        private static final MethodHandle OPEN = LINKER.downcallHandle(LINKER.defaultLookup().find("open").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2));
        private static final MethodHandle IOCTL = LINKER.downcallHandle(LINKER.defaultLookup().find("ioctl").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), Linker.Option.firstVariadicArg(2));
        private static final long FIONREAD = 0x541B;
        private static final int O_RDONLY = 0;
        private static final long CAP_SYS_ADMIN = 1L << 21;
        private static final long CAP_SYS_RESOURCE = 1L << 24;

        final Process process;
        final Path dir;
        final int port;
        final List<String> lines = new CopyOnWriteArrayList<>();
        private final Thread reader;

        private Child(Process process, Path dir) throws IOException {
            this.process = process;
            this.dir = dir;
            BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            java.util.regex.Pattern listening = java.util.regex.Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
            int found = -1;
            String line;
            while (found < 0 && (line = out.readLine()) != null) {
                lines.add(line);
                Matcher m = listening.matcher(line);
                if (m.find()) found = Integer.parseInt(m.group(1));
            }
            this.port = found;
            this.reader = Thread.ofPlatform().daemon().start(() -> {
                try {
                    String l;
                    while ((l = out.readLine()) != null) lines.add(l);
                } catch (IOException e) {
                    // the child ended
                }
            });
        }

        static Child start(String config) throws IOException, InterruptedException {
            // the child runs as another user: give it a world-readable copy of the classes and the configuration
            Path dir = Files.createTempDirectory("pipe-budget-");
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
            List<String> cp = new ArrayList<>();
            int n = 0;
            for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
                if (entry.endsWith("test-classes") || !Files.exists(Path.of(entry))) continue;
                Path to = dir.resolve("cp" + n++);
                copyTree(Path.of(entry), to);
                cp.add(to.toString());
            }
            Path cfg = Files.writeString(dir.resolve("forwarder.cfg"), config);
            List<String> cmd = new ArrayList<>();
            boolean root = uid("self") == 0;
            if (root) {
                // a user of its own (uid without a name): its pipe pages are charged to it alone; no capability left
                long uid = 200_000 + ProcessHandle.current().pid() % 100_000;
                cmd.addAll(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                        "--inh-caps=-all", "--bounding-set=-all"));
            }
            cmd.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-XX:-UsePerfData", "-Xmx256m", "--enable-native-access=ALL-UNNAMED", "-Dforwarder.grace.ms=2000",
                    "-cp", String.join(File.pathSeparator, cp), Main.class.getName(), "-f", cfg.toString()));
            Process p;
            try {
                p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            } catch (IOException e) {
                deleteTree(dir);
                throw new AssertionError("cannot start " + cmd.getFirst() + (root ? " (setpriv is in util-linux)" : ""), e);
            }
            Child c = new Child(p, dir);
            try {
                assertTrue(c.port > 0, "the forwarder did not start:\n" + c.output());
                String status = proc(Path.of("/proc", String.valueOf(p.pid()), "status"));
                long capEff = Long.parseLong(field(status, "CapEff:"), 16);
                assertEquals(0, capEff & (CAP_SYS_ADMIN | CAP_SYS_RESOURCE), "the child must lack CAP_SYS_ADMIN and"
                        + " CAP_SYS_RESOURCE, or the kernel's pipe limit does not apply to it: CapEff " + Long.toHexString(capEff));
                if (root) assertTrue(uid(String.valueOf(p.pid())) != 0, "the child runs as another user");
            } catch (Throwable t) {
                c.close();
                throw t;
            }
            return c;
        }

        private static int uid(String pid) throws IOException {
            return Integer.parseInt(field(proc(Path.of("/proc", pid, "status")), "Uid:").split("\\s+")[0]);
        }

        private static String field(String status, String name) {
            return status.lines().filter(l -> l.startsWith(name)).findFirst().orElseThrow()
                    .substring(name.length()).trim();
        }

        String output() {
            return String.join("\n", lines);
        }

        /** The child's pipes by inode (both ends of one pipe are one entry). */
        Map<Long, Pipe> pipes() {
            Map<Long, Pipe> pipes = new HashMap<>();
            Path fds = Path.of("/proc", String.valueOf(process.pid()), "fd");
            Syscalls sys = Syscalls.get();
            try (Stream<Path> list = Files.list(fds); Arena arena = Arena.ofConfined()) {
                MemorySegment count = arena.allocate(JAVA_INT);
                for (Path fd : (Iterable<Path>) list::iterator) {
                    String target;
                    try {
                        target = Files.readSymbolicLink(fd).toString();
                    } catch (IOException e) {
                        continue; // closed while listing
                    }
                    if (!target.startsWith("pipe:[")) continue;
                    long inode = Long.parseLong(target.substring(6, target.length() - 1));
                    if (pipes.containsKey(inode)) continue;
                    int own = (int) OPEN.invokeExact(arena.allocateFrom(fd.toString()),
                            O_RDONLY | FdConst.O_NONBLOCK | FdConst.O_CLOEXEC, 0);
                    if (own < 0) continue; // closed meanwhile
                    try {
                        int size = sys.fcntl(own, FdConst.F_GETPIPE_SZ, 0);
                        int r = (int) IOCTL.invokeExact(own, FIONREAD, count);
                        pipes.put(inode, new Pipe(inode, size, r < 0 ? -1 : count.get(JAVA_INT, 0)));
                    } finally {
                        sys.close(own);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + fds, e);
            } catch (Throwable t) {
                throw new AssertionError(t);
            }
            return pipes;
        }

        /** SIGTERM: the child prints its counters and exits 0; returns everything it wrote. */
        String stop() throws InterruptedException {
            process.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its output

            assertTrue(process.waitFor(20, TimeUnit.SECONDS), "the forwarder did not stop:\n" + output());
            reader.join(5_000); // it ends at the end of the child's output
            assertEquals(0, process.exitValue(), output());
            return output();
        }

        @Override
        public void close() throws IOException, InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            deleteTree(dir);
        }

        private static void copyTree(Path from, Path to) throws IOException {
            if (!Files.isDirectory(from)) {
                Files.copy(from, to);
                return;
            }
            try (Stream<Path> all = Files.walk(from)) {
                for (Path p : (Iterable<Path>) all::iterator) {
                    Path t = to.resolve(from.relativize(p).toString());
                    if (Files.isDirectory(p)) Files.createDirectories(t);
                    else Files.copy(p, t);
                }
            }
        }

        private static void deleteTree(Path dir) throws IOException {
            try (Stream<Path> all = Files.walk(dir)) {
                for (Path p : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) Files.deleteIfExists(p);
            }
        }
    }
}
