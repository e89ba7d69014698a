package org.forwarder.it;

import org.forwarder.Forwarder;
import org.forwarder.config.CommandLine;
import org.forwarder.config.Config;
import org.forwarder.config.ConfigException;
import org.forwarder.config.ConfigParser;
import org.forwarder.stats.StatsSnapshot;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Shared helpers of the tests that run real traffic (this package's and the splice tests): real
 * sockets on 127.0.0.1, peers in plain blocking Java, nothing mocked. Everything a test opens goes
 * into its {@link Cleanup}, which is closed after each test, so a failed test leaks neither
 * threads nor sockets.
 */
public final class Peers {
    public static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    /** Upper bound for any single blocking read in a test peer: a hang fails instead of blocking forever. */
    static final int SO_TIMEOUT_MS = 30_000;

    private Peers() {}

    // ---- clean-up ----------------------------------------------------------------------------

    /**
     * Closes what was registered, newest first; remembers every failure and rethrows the first.
     * A test class declares one as {@code @RegisterExtension final Cleanup cleanup = new Cleanup();}
     * and it is closed after each test; a test may also close one of its own earlier (per round).
     */
    public static final class Cleanup implements AutoCloseable, AfterEachCallback {
        private final Deque<AutoCloseable> items = new ArrayDeque<>();

        public synchronized <T extends AutoCloseable> T add(T item) {
            items.push(item);
            return item;
        }

        @Override
        public void afterEach(ExtensionContext context) throws Exception {
            close();
        }

        @Override
        public void close() throws Exception {
            Exception first = null;
            while (true) {
                AutoCloseable c;
                synchronized (this) {
                    c = items.poll();
                }
                if (c == null) break;
                try {
                    c.close();
                } catch (Exception | AssertionError e) {
                    if (first == null) first = e instanceof Exception ex ? ex : new Exception(e);
                    else first.addSuppressed(e);
                }
            }
            if (first != null) throw first;
        }
    }

    // ---- forwarder ---------------------------------------------------------------------------

    /** A forwarder started in-process, with its log kept for failure messages. */
    public static final class Fw implements AutoCloseable {
        public final Forwarder fw;
        /** What the forwarder logged. */
        public final List<String> log;
        public final int port;

        Fw(Forwarder fw, List<String> log) {
            this.fw = fw;
            this.log = log;
            this.port = fw.boundAddresses().getFirst().port();
        }

        /**
         * The counters once the loop has finished the pass it was in when asked, so a test that
         * saw an effect (a close, a reset) also sees the counting done with it in that pass. The
         * figures are read from the registry, as any thread may; only the wait is for the tests.
         */
        public StatsSnapshot stats() {
            fw.sync();
            return fw.stats();
        }

        InetSocketAddress address() {
            return new InetSocketAddress(LOOPBACK, port);
        }

        /** Polls until no stream is open and no buffer or pipe is held, or fails. */
        public StatsSnapshot awaitIdleAndReleased(Duration max) {
            waitUntil("forwarder has no open stream and holds no buffer or pipe", max, () -> {
                StatsSnapshot st = fw.stats();
                return st.active() == 0 && st.buffersInUse() == 0 && st.pipesInUse() == 0;
            }, () -> fw.stats().render());
            return stats();
        }

        /** Polls until no stream is open (every close path ran), or fails. */
        public StatsSnapshot awaitIdle(Duration max) {
            waitUntil("forwarder has no open stream", max, () -> fw.stats().active() == 0);
            return stats();
        }

        @Override
        public void close() {
            fw.close();
            if (fw.failure() != null) {
                throw new AssertionError("the forwarder's event loop died: " + fw.failure(), fw.failure());
            }
            if (fw.isRunning()) throw new AssertionError("the forwarder's event loop did not stop");
        }
    }

    /**
     * Starts a forwarder from the command line: it listens on 127.0.0.1:0 and forwards to
     * 127.0.0.1:{@code serverPort} with client and server timeouts {@code timeout}, plus
     * {@code flags} (options separated by spaces, or "").
     */
    public static Fw startQuick(Cleanup cleanup, int serverPort, String timeout, String flags) throws ConfigException {
        List<String> args = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + serverPort,
                "--timeout-client", timeout, "--timeout-server", timeout));
        if (!flags.isEmpty()) args.addAll(List.of(flags.split(" ")));
        return start(cleanup, CommandLine.parse(args.toArray(String[]::new)).config());
    }

    public static Fw startText(Cleanup cleanup, String text) throws ConfigException {
        return start(cleanup, ConfigParser.parse(text, "it.cfg"));
    }

    /** As {@link #startText}, with the loop's system calls going through {@code sys} (a test double). */
    public static Fw startText(Cleanup cleanup, String text, org.forwarder.sys.Syscalls sys) throws ConfigException {
        return start(cleanup, ConfigParser.parse(text, "it.cfg"), sys);
    }

    /** As {@link #startQuick}, with the loop's system calls going through {@code sys} (a test double). */
    public static Fw startQuick(Cleanup cleanup, int serverPort, String timeout, String flags,
                                org.forwarder.sys.Syscalls sys) throws ConfigException {
        List<String> args = new ArrayList<>(List.of("--listen", "127.0.0.1:0", "--server", "127.0.0.1:" + serverPort,
                "--timeout-client", timeout, "--timeout-server", timeout));
        if (!flags.isEmpty()) args.addAll(List.of(flags.split(" ")));
        return start(cleanup, CommandLine.parse(args.toArray(String[]::new)).config(), sys);
    }

    /**
     * A defaults section: mode tcp, timeout connect 2s, client and server timeouts {@code timeout},
     * then {@code more} (one setting each).
     */
    public static String defaults(String timeout, String... more) {
        StringBuilder text = new StringBuilder("""
                defaults
                    mode tcp
                    timeout connect 2s
                    timeout client %s
                    timeout server %s
                """.formatted(timeout, timeout));
        for (String setting : more) text.append("    ").append(setting).append('\n');
        return text.toString();
    }

    /**
     * {@link #defaults} with {@code timeout} and {@code settings}, then a listener "l" on
     * 127.0.0.1:0 in front of one server, 127.0.0.1:{@code serverPort}.
     */
    public static String oneServer(int serverPort, String timeout, String... settings) {
        return defaults(timeout, settings) + """
                listen l
                    bind 127.0.0.1:0
                    server s 127.0.0.1:%d
                """.formatted(serverPort);
    }

    /**
     * The configuration of a listener "q" in front of one server with maxconn 1: a second client
     * waits in the backend's queue, for up to {@code queueTimeout}.
     */
    public static String oneSlotQueue(int serverPort, String timeout, String queueTimeout) {
        return defaults(timeout, "timeout queue " + queueTimeout) + """
                listen q
                    bind 127.0.0.1:0
                    server s1 127.0.0.1:%d maxconn 1
                """.formatted(serverPort);
    }

    /** Starts a forwarder from a configuration built or adjusted by the test. */
    public static Fw startConfig(Cleanup cleanup, Config config) {
        return start(cleanup, config);
    }

    private static Fw start(Cleanup cleanup, Config config) {
        return start(cleanup, config, org.forwarder.sys.Syscalls.newInstance());
    }

    /**
     * The number of event loops the suites run with when a test's configuration does not set
     * nbthread: system property {@value #NBTHREAD_PROPERTY} (the build runs the traffic suites
     * once with 1 and once with 2), else 1.
     */
    public static int suiteLoops() {
        return Integer.getInteger(NBTHREAD_PROPERTY, 1);
    }

    public static final String NBTHREAD_PROPERTY = "forwarder.test.nbthread";

    private static Fw start(Cleanup cleanup, Config config, org.forwarder.sys.Syscalls sys) {
        if (config.global().nbthread() == org.forwarder.config.GlobalConfig.AUTO_NBTHREAD) {
            config = config.withGlobal(config.global().withNbthread(suiteLoops()));
        }
        List<String> log = new CopyOnWriteArrayList<>();
        java.util.function.Supplier<org.forwarder.sys.Syscalls> perLoop =
                sys instanceof FaultySyscalls faulty ? faulty::sibling : org.forwarder.sys.Syscalls::newInstance;
        Forwarder f = Forwarder.start(config, msg -> {
            log.add(msg);
            System.out.println("[forwarder] " + msg);
        }, perLoop);
        return cleanup.add(new Fw(f, log));
    }

    // ---- test servers ------------------------------------------------------------------------

    @FunctionalInterface
    public interface Behaviour {
        /** Serves one accepted connection; the socket is closed after it returns. */
        void serve(Socket s, int index) throws Exception;
    }

    /**
     * A server on 127.0.0.1:0: one platform thread accepts, each connection is served by
     * {@code behaviour} on its own virtual thread. Errors of behaviours are collected (a peer
     * reset by the forwarder is not an error of the server: tests look at them when it matters).
     */
    public static final class TestServer implements AutoCloseable {
        final String name;
        final ServerSocket listener;
        public final AtomicInteger accepted = new AtomicInteger();
        /** Connections whose behaviour returned and whose socket is closed. */
        public final AtomicInteger finished = new AtomicInteger();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
        private final Behaviour behaviour;
        private final Map<Socket, Boolean> open = new ConcurrentHashMap<>();
        private final List<Thread> threads = new CopyOnWriteArrayList<>();
        private final Thread acceptor;
        private volatile boolean closing;

        public TestServer(String name, int backlog, Behaviour behaviour) throws IOException {
            this(name, backlog, behaviour, 0);
        }

        /** As above, on 127.0.0.1:{@code port} (0: any), e.g. a server restarted where it was. */
        public TestServer(String name, int backlog, Behaviour behaviour, int port) throws IOException {
            this.name = name;
            this.behaviour = behaviour;
            this.listener = new ServerSocket();
            listener.setReuseAddress(true);
            listener.bind(new InetSocketAddress(LOOPBACK, port), backlog);
            this.acceptor = Thread.ofPlatform().name("it-accept-" + name).daemon().start(this::acceptLoop);
        }

        public int port() {
            return listener.getLocalPort();
        }

        private void acceptLoop() {
            while (!closing) {
                Socket s;
                try {
                    s = listener.accept();
                } catch (IOException e) {
                    if (!closing) errors.add(e);
                    return;
                }
                int index = accepted.getAndIncrement();
                open.put(s, Boolean.TRUE);
                if (closing) {
                    closeQuietly(s);
                    open.remove(s);
                    return;
                }
                Thread t = Thread.ofVirtual().name("it-serve-" + name + "-" + index).unstarted(() -> {
                    try {
                        s.setSoTimeout(SO_TIMEOUT_MS);
                        behaviour.serve(s, index);
                    } catch (Throwable e) {
                        if (!closing) errors.add(e);
                    } finally {
                        closeQuietly(s);
                        open.remove(s);
                        finished.incrementAndGet();
                    }
                });
                threads.add(t);
                t.start();
            }
        }

        /** Sockets accepted and not yet closed by their behaviour. */
        int openCount() {
            return open.size();
        }

        /** Closes every accepted socket now (their behaviours end with an exception, ignored). */
        void closeAccepted() {
            for (Socket s : open.keySet()) closeQuietly(s);
        }

        @Override
        public void close() throws InterruptedException {
            closing = true;
            closeQuietly(listener);
            closeAccepted();
            acceptor.join(5_000);
            for (Thread t : threads) {
                if (!t.join(Duration.ofSeconds(5))) {
                    throw new AssertionError("server thread " + t.getName() + " did not end after its socket closed");
                }
            }
        }
    }

    /** Echoes every byte until the peer's FIN, then closes. */
    public static final Behaviour ECHO = (s, i) -> {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] b = new byte[65536];
        int n;
        while ((n = in.read(b)) > 0) out.write(b, 0, n);
    };

    /** Echo that first says which server it is: "name\n". */
    public static Behaviour taggedEcho(String tag) {
        return (s, i) -> {
            s.getOutputStream().write((tag + "\n").getBytes());
            ECHO.serve(s, i);
        };
    }

    /** A port that nothing listens on (bound, then closed: the kernel just gave it out, nobody else holds it). */
    public static int deadPort() throws IOException {
        try (ServerSocket ss = new ServerSocket()) {
            ss.setReuseAddress(false);
            ss.bind(new InetSocketAddress(LOOPBACK, 0), 1);
            return ss.getLocalPort();
        }
    }

    public static Socket connect(Cleanup cleanup, int port) throws IOException {
        Socket s = new Socket();
        cleanup.add(s);
        connect(s, port);
        return s;
    }

    /** Connects {@code s} to 127.0.0.1:{@code port}, with reads bounded by {@link #SO_TIMEOUT_MS}. */
    static void connect(Socket s, int port) throws IOException {
        s.connect(new InetSocketAddress(LOOPBACK, port), 5_000);
        s.setSoTimeout(SO_TIMEOUT_MS);
    }

    /** Writes {@code msg}, reads exactly as many bytes back, and returns them. */
    public static byte[] exchange(Socket s, byte[] msg) throws IOException {
        s.getOutputStream().write(msg);
        return readExactly(s.getInputStream(), msg.length);
    }

    public static byte[] readExactly(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length != n) {
            throw new IOException("EOF after " + b.length + " of " + n + " bytes");
        }
        return b;
    }

    /** Reads one '\n'-terminated line (a server tag). */
    public static String readLine(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 200; i++) {
            int c = in.read();
            if (c < 0) throw new IOException("EOF while reading a line, got '" + sb + "'");
            if (c == '\n') return sb.toString();
            sb.append((char) c);
        }
        throw new IOException("line too long: '" + sb + "'");
    }

    static void closeQuietly(AutoCloseable c) {
        try {
            if (c != null) c.close();
        } catch (Exception ignored) {
            // closing is best effort here
        }
    }

    /** Closes {@code s} so that the peer gets a reset (SO_LINGER 0). */
    public static void reset(Socket s) throws IOException {
        s.setSoLinger(true, 0);
        s.close();
    }

    /** What a read shows at the end of a connection. */
    public enum End { EOF, RESET, TIMEOUT, DATA }

    /** How a connection ended, how many bytes came before, and how long after the call (ms). */
    public record Drained(End end, long bytes, long ms) {}

    /** Reads and discards until EOF, a reset or {@code max} elapses. */
    public static Drained drainToEnd(Socket s, Duration max) throws IOException {
        long t0 = System.nanoTime();
        long deadline = t0 + max.toNanos();
        byte[] b = new byte[65536];
        long total = 0;
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) return drained(End.TIMEOUT, total, t0);
            s.setSoTimeout((int) Math.max(1, left));
            int n;
            try {
                n = s.getInputStream().read(b);
            } catch (java.net.SocketTimeoutException e) {
                return drained(End.TIMEOUT, total, t0);
            } catch (SocketException e) {
                if (isReset(e)) return drained(End.RESET, total, t0);
                throw e;
            }
            if (n < 0) return drained(End.EOF, total, t0);
            total += n;
        }
    }

    private static Drained drained(End end, long bytes, long t0) {
        return new Drained(end, bytes, (System.nanoTime() - t0) / 1_000_000);
    }

    static boolean isReset(Throwable e) {
        String m = String.valueOf(e.getMessage()).toLowerCase();
        return m.contains("connection reset") || m.contains("broken pipe");
    }

    // ---- waiting -----------------------------------------------------------------------------

    public static void waitUntil(String what, Duration max, BooleanSupplier cond) {
        waitUntil(what, max, cond, () -> "");
    }

    public static void waitUntil(String what, Duration max, BooleanSupplier cond, Supplier<String> detail) {
        if (!await(max, cond)) {
            throw new AssertionError("timed out after " + max.toMillis() + " ms waiting until " + what + " " + detail.get());
        }
    }

    /**
     * Polls {@code cond} every 10 ms until it holds or {@code max} has passed; returns whether it
     * holds. Fails nothing by itself: {@link #waitUntil} does, or the caller's assertions.
     */
    public static boolean await(Duration max, BooleanSupplier cond) {
        long deadline = System.nanoTime() + max.toNanos();
        while (!cond.getAsBoolean()) {
            if (System.nanoTime() > deadline) return false;
            sleep(10);
        }
        return true;
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    // ---- file descriptors --------------------------------------------------------------------

    private static boolean jdkIoWarm;

    /**
     * Makes the JDK open the fds it opens lazily, once per JVM: the epoll instances behind
     * virtual-thread socket I/O appear the first time a virtual thread parks on a socket. Call
     * before taking an fd baseline, so they are not mistaken for a leak.
     */
    public static synchronized void warmUpJdkIo() throws Exception {
        if (jdkIoWarm) return;
        try (ServerSocket ss = new ServerSocket(0, 1, LOOPBACK)) {
            Thread t = Thread.ofVirtual().start(() -> {
                try (Socket a = ss.accept()) { // parks: no connection yet
                    a.setSoTimeout(5_000);
                    a.getInputStream().read(); // parks: no byte yet
                } catch (IOException ignored) {
                    // the fds are open either way
                }
            });
            Thread.sleep(100);
            try (Socket c = new Socket(LOOPBACK, ss.getLocalPort())) {
                Thread.sleep(100);
                c.getOutputStream().write(1);
            }
            t.join(5_000);
        }
        jdkIoWarm = true;
    }

    /** Open fds of this process, by kind ("socket", "pipe", "anon_inode:[eventpoll]", "file"...). */
    static Map<String, Integer> fdKinds() {
        Map<String, Integer> kinds = new TreeMap<>();
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : (Iterable<Path>) fds::iterator) {
                String kind;
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (target.startsWith("socket:")) kind = "socket";
                    else if (target.startsWith("pipe:")) kind = "pipe";
                    else if (target.startsWith("anon_inode:")) kind = target;
                    else kind = "file";
                } catch (IOException e) {
                    continue; // closed while listing (the listing's own fd, or another thread's)
                }
                kinds.merge(kind, 1, Integer::sum);
            }
        } catch (IOException e) {
            throw new AssertionError("cannot list /proc/self/fd", e);
        }
        return kinds;
    }

    public static int fdCount() {
        return fdKinds().values().stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * Waits (up to {@code max}) until every kind of fd of the process (sockets, pipes, epoll and
     * eventfd instances) is back to its count in {@code baseline}. Only plain files may exceed it,
     * by up to {@code fileSlack}: the JVM opens jars and such of its own accord, never a socket.
     */
    static void awaitFdsBackTo(Map<String, Integer> baseline, int fileSlack, Duration max) {
        Map<String, Integer>[] last = new Map[1];
        waitUntil("the process's fds are back to the baseline " + baseline, max, () -> {
            Map<String, Integer> now = fdKinds();
            last[0] = now;
            for (Map.Entry<String, Integer> e : now.entrySet()) {
                int allowed = baseline.getOrDefault(e.getKey(), 0) + (e.getKey().equals("file") ? fileSlack : 0);
                if (e.getValue() > allowed) return false;
            }
            return true;
        }, () -> "; now " + last[0]);
    }

    // ---- deterministic data ------------------------------------------------------------------

    /**
     * An endless deterministic byte stream per seed: byte {@code p} is byte {@code p % 8} of
     * SplitMix64(seed, p / 8). Stateless, so any position can be checked directly.
     */
    public static final class Pattern {
        private Pattern() {}

        static long word(long seed, long index) {
            long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            return z ^ (z >>> 31);
        }

        /** Fills {@code b[off, off+len)} with the stream's bytes from position {@code pos}. */
        static void fill(long seed, long pos, byte[] b, int off, int len) {
            int i = 0;
            while (i < len) {
                long p = pos + i;
                long w = word(seed, p >>> 3);
                int shift = (int) (p & 7);
                int take = Math.min(8 - shift, len - i);
                for (int k = 0; k < take; k++) {
                    b[off + i + k] = (byte) (w >>> ((shift + k) * 8));
                }
                i += take;
            }
        }

        /** The first {@code len} bytes of the stream. */
        public static byte[] bytes(long seed, int len) {
            byte[] b = new byte[len];
            fill(seed, 0, b, 0, len);
            return b;
        }

        /** SHA-256 of the first {@code len} bytes of the stream. */
        public static String sha(long seed, long len) {
            MessageDigest md = sha256();
            byte[] b = new byte[65536];
            long pos = 0;
            while (pos < len) {
                int n = (int) Math.min(b.length, len - pos);
                fill(seed, pos, b, 0, n);
                md.update(b, 0, n);
                pos += n;
            }
            return hex(md);
        }
    }

    /** Hashes and checks incoming bytes against a {@link Pattern}. */
    static final class Checker {
        private final long seed;
        private final MessageDigest md = sha256();
        private byte[] expected = new byte[0];
        long count;
        /** Position of the first byte that differs from the pattern, or -1. */
        long firstMismatch = -1;

        Checker(long seed) {
            this.seed = seed;
        }

        void update(byte[] b, int off, int len) {
            md.update(b, off, len);
            if (firstMismatch < 0) {
                if (expected.length < len) expected = new byte[len];
                Pattern.fill(seed, count, expected, 0, len);
                int m = java.util.Arrays.mismatch(b, off, off + len, expected, 0, len);
                if (m >= 0) firstMismatch = count + m;
            }
            count += len;
        }

        /** Reads {@code in} to EOF; a reset or timeout is thrown. */
        void readAll(InputStream in) throws IOException {
            byte[] b = new byte[65536];
            int n;
            while ((n = in.read(b)) >= 0) update(b, 0, n);
        }

        String sha() {
            return hex(md);
        }
    }

    /** Writes {@code len} bytes of the pattern of {@code seed}; returns nothing, the receiver checks. */
    public static void writePattern(OutputStream out, long seed, long len) throws IOException {
        byte[] b = new byte[65536];
        long pos = 0;
        while (pos < len) {
            int n = (int) Math.min(b.length, len - pos);
            Pattern.fill(seed, pos, b, 0, n);
            out.write(b, 0, n);
            pos += n;
        }
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    public static String hex(MessageDigest md) {
        return HexFormat.of().formatHex(md.digest());
    }

    /** SHA-256 of {@code b}, in hex like {@link Pattern#sha} and {@link Checker#sha}. */
    public static String sha(byte[] b) {
        MessageDigest md = sha256();
        md.update(b);
        return hex(md);
    }
}
