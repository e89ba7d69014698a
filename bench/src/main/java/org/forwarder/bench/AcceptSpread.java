package org.forwarder.bench;

import org.forwarder.sys.Errno;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.SockConst;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Issue 8 experiment: how evenly do N event loops share new connections, with one listening
 * socket per loop (SO_REUSEPORT, the kernel picks a socket by hashing the connection's addresses)
 * or with ONE listening socket registered in every loop's epoll set with EPOLLEXCLUSIVE (the
 * kernel wakes one loop that is sleeping in epoll_wait, the first found in registration order)?
 *
 * <p>Why a separate program and not the forwarder: the two designs differ only in how the
 * listening socket reaches the loops, so everything else is cut down to the minimum a forwarder
 * does per connection (register it, recv up to 64 bytes and send them back, close on EOF). The
 * accept batch (accepts per readiness event) is a parameter because it decides how much of a
 * burst the first loop woken takes for itself. A loop can be made slow on purpose ({@code
 * --stall-loop}: it parks after every event), to see where connections go while one loop is busy.
 *
 * <p>Level-triggered epoll, like the forwarder. Each loop owns its {@link Syscalls} (instances are
 * not thread-safe), its epoll set, its buffers and its counters; the counters are published after
 * every epoll_wait return so that {@code --every} can print them while the run goes on. Bounded:
 * the loops stop at {@code --seconds} or on SIGTERM, then every fd is closed and one
 * {@code RESULT key=value ...} line is printed. Binds 127.0.0.1 only.
 */
public final class AcceptSpread {
    /**
     * EPOLLEXCLUSIVE (linux/eventpoll.h, Linux 4.5+): wake only one of the epoll sets waiting on
     * this fd. Not in {@link FdConst}, which only carries what the forwarder itself uses.
     */
    static final int EPOLLEXCLUSIVE = 1 << 28;

    private static final int MAX_EVENTS = 256;
    private static final int BUF = 64;
    private static final long LISTENER_TAG = 1L << 40;
    private static final int WAIT_MS = 100;

    // per-loop counters, one padded row each (no false sharing between loops)
    private static final int C_ACCEPTS = 0;
    private static final int C_EMPTY = 1;      // listener reported ready, first accept4 got EAGAIN
    private static final int C_LEVENTS = 2;    // listener readiness events handled
    private static final int C_WAKEUPS = 3;    // epoll_wait returns with at least one event
    private static final int C_EVENTS = 4;     // events handled (listener and connections)
    private static final int C_CLOSED = 5;
    private static final int C_BYTES = 6;      // bytes echoed
    private static final int C_ERRORS = 7;     // unexpected errno, short send
    private static final int N_COUNTERS = 8;
    private static final int STRIDE = 16;
    private static final String[] NAMES = {"accepts", "empty_accepts", "listener_events", "wakeups", "events",
            "closed", "echoed_bytes", "errors"};

    private AcceptSpread() {}

    record Options(String mode, int loops, int batch, double seconds, int port, int backlog, int stallLoop,
                   long stallUs, double everyS) {
        static final String USAGE = String.join("\n",
                "usage: AcceptSpread --mode reuseport|exclusive [options]",
                "  --loops L        event loops (threads), each with its own epoll set [2]",
                "  --batch B        accept4 calls at most per listener readiness event [64]",
                "  --seconds S      run time; the loops stop then (or on SIGTERM) [60]",
                "  --port P         port on 127.0.0.1; 0 = any free port [0]",
                "  --backlog N      listen backlog of each listening socket [1024]",
                "  --stall-loop K   this loop parks --stall-us after every event it handles [none]",
                "  --stall-us U     stall per event in microseconds [1000]",
                "  --every S        print cumulative per-loop counts every S seconds [off]",
                "Prints 'READY port=P' once listening, then at the end one line per loop and",
                "'RESULT key=value ...' (per-loop lists comma-separated).");

        static Options parse(String[] args) {
            String mode = null;
            int loops = 2, batch = 64, port = 0, backlog = 1024, stallLoop = -1;
            long stallUs = 1000;
            double seconds = 60, every = 0;
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (!flag.startsWith("--")) throw new IllegalArgumentException("unexpected argument '" + flag + "' (see --help)");
                if (!seen.add(flag)) throw new IllegalArgumentException("'" + flag + "' given twice");
                if (i + 1 >= args.length) throw new IllegalArgumentException("'" + flag + "' needs a value");
                String v = args[++i];
                switch (flag) {
                    case "--mode" -> {
                        mode = v.toLowerCase(Locale.ROOT);
                        if (!mode.equals("reuseport") && !mode.equals("exclusive"))
                            throw new IllegalArgumentException("'--mode' '" + v + "': use reuseport or exclusive");
                    }
                    case "--loops" -> loops = (int) integer(flag, v, 1, 64);
                    case "--batch" -> batch = (int) integer(flag, v, 1, 1 << 16);
                    case "--seconds" -> seconds = number(flag, v, 0.1, 3600);
                    case "--port" -> port = (int) integer(flag, v, 0, 65535);
                    case "--backlog" -> backlog = (int) integer(flag, v, 1, 1 << 20);
                    case "--stall-loop" -> stallLoop = (int) integer(flag, v, 0, 63);
                    case "--stall-us" -> stallUs = integer(flag, v, 1, 1_000_000);
                    case "--every" -> every = number(flag, v, 0.1, 3600);
                    default -> throw new IllegalArgumentException("unknown option '" + flag + "' (see --help)");
                }
            }
            if (mode == null) throw new IllegalArgumentException("'--mode' is required (reuseport or exclusive)");
            if (stallLoop >= loops) throw new IllegalArgumentException("'--stall-loop' " + stallLoop + " is not a loop (0-" + (loops - 1) + ")");
            if (seen.contains("--stall-us") && stallLoop < 0) throw new IllegalArgumentException("'--stall-us' without '--stall-loop'");
            return new Options(mode, loops, batch, seconds, port, backlog, stallLoop, stallUs, every);
        }

        private static long integer(String flag, String v, long min, long max) {
            long n;
            try {
                n = Long.parseLong(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + flag + "' '" + v + "' is not a whole number");
            }
            if (n < min || n > max) throw new IllegalArgumentException("'" + flag + "' " + n + " is out of range " + min + "-" + max);
            return n;
        }

        private static double number(String flag, String v, double min, double max) {
            double d;
            try {
                d = Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + flag + "' '" + v + "' is not a number");
            }
            if (!(d >= min && d <= max)) throw new IllegalArgumentException("'" + flag + "' " + v + " is out of range " + min + "-" + max);
            return d;
        }
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println(Options.USAGE);
            return;
        }
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("AcceptSpread: " + e.getMessage());
            System.exit(2);
            return;
        }
        System.exit(run(o));
    }

    private static volatile boolean stop;

    static int run(Options o) throws InterruptedException {
        Syscalls sys = Syscalls.newInstance();
        int[] listeners;
        int port;
        try {
            int n = o.mode().equals("reuseport") ? o.loops() : 1;
            listeners = new int[n];
            port = o.port();
            for (int i = 0; i < n; i++) {
                listeners[i] = listen(sys, port, o.backlog(), o.mode().equals("reuseport"));
                if (port == 0) port = sys.getsockname(listeners[i]).port();
            }
        } catch (IllegalStateException e) {
            System.err.println("AcceptSpread: " + e.getMessage());
            return 1;
        }
        AtomicLongArray counters = new AtomicLongArray(o.loops() * STRIDE);
        CountDownLatch registered = new CountDownLatch(o.loops());
        AtomicReference<String> failure = new AtomicReference<>();
        // loops in the order their epoll_ctl(ADD) on a listener returned: with one shared socket,
        // the order of its exclusive wait-queue entries, which the kernel walks from the first
        int[] order = new int[o.loops()];
        AtomicInteger nextOrder = new AtomicInteger();
        long deadline = System.nanoTime() + (long) (o.seconds() * 1e9);
        Thread[] threads = new Thread[o.loops()];
        for (int i = 0; i < threads.length; i++) {
            int lfd = listeners[o.mode().equals("reuseport") ? i : 0];
            int events = FdConst.EPOLLIN | (o.mode().equals("exclusive") ? EPOLLEXCLUSIVE : 0);
            Loop loop = new Loop(i, lfd, events, o.batch(), i == o.stallLoop() ? o.stallUs() * 1000 : 0,
                    counters, deadline, registered, failure, order, nextOrder);
            threads[i] = new Thread(loop, "loop-" + i);
            threads[i].start();
        }
        CountDownLatch printed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stop = true;
            try {
                printed.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // exiting anyway
            }
        }));
        int rc = 0;
        if (!registered.await(10, TimeUnit.SECONDS) || failure.get() != null) {
            System.err.println("AcceptSpread: " + (failure.get() != null ? failure.get() : "loops did not start within 10 s"));
            stop = true;
            rc = 1;
        } else {
            System.out.println("READY port=" + port + " mode=" + o.mode() + " loops=" + o.loops() + " batch=" + o.batch()
                    + " listening_sockets=" + listeners.length + " registration_order=" + orderText(order)
                    + (o.stallLoop() >= 0
                    ? " stall_loop=" + o.stallLoop() + " stall_us=" + o.stallUs() : ""));
            System.out.flush();
        }
        long start = System.nanoTime();
        long nextTick = o.everyS() > 0 ? start + (long) (o.everyS() * 1e9) : Long.MAX_VALUE;
        for (Thread t : threads) {
            while (t.isAlive()) {
                long now = System.nanoTime();
                if (now - deadline > 5_000_000_000L) break; // a loop ignored its deadline: report what we have
                if (now - nextTick >= 0) {
                    System.out.printf(Locale.ROOT, "TICK t=%.1f accepts=%s events=%s%n", (now - start) / 1e9,
                            list(counters, o.loops(), C_ACCEPTS), list(counters, o.loops(), C_EVENTS));
                    System.out.flush();
                    nextTick += (long) (o.everyS() * 1e9);
                }
                t.join(50);
            }
        }
        for (int lfd : listeners) sys.close(lfd);
        if (failure.get() != null && rc == 0) {
            System.err.println("AcceptSpread: " + failure.get());
            rc = 1;
        }
        report(o, counters, (System.nanoTime() - start) / 1e9, orderText(order));
        printed.countDown();
        return rc;
    }

    private static int listen(Syscalls sys, int port, int backlog, boolean reusePort) {
        int s = sys.socket(SockConst.AF_INET, SockConst.SOCK_STREAM | SockConst.SOCK_NONBLOCK | SockConst.SOCK_CLOEXEC, 0);
        if (s < 0) throw new IllegalStateException("socket: " + Errno.describe(s));
        int r = sys.setIntOption(s, SockConst.SOL_SOCKET, SockConst.SO_REUSEADDR, 1);
        if (r >= 0 && reusePort) r = sys.setIntOption(s, SockConst.SOL_SOCKET, SockConst.SO_REUSEPORT, 1);
        if (r < 0) {
            sys.close(s);
            throw new IllegalStateException("setsockopt: " + Errno.describe(r));
        }
        r = sys.bind(s, SockAddr.parse("127.0.0.1:" + port));
        if (r < 0) {
            sys.close(s);
            throw new IllegalStateException("bind 127.0.0.1:" + port + ": " + Errno.describe(r));
        }
        r = sys.listen(s, backlog);
        if (r < 0) {
            sys.close(s);
            throw new IllegalStateException("listen: " + Errno.describe(r));
        }
        return s;
    }

    private static String list(AtomicLongArray c, int loops, int counter) {
        StringJoiner j = new StringJoiner(",");
        for (int i = 0; i < loops; i++) j.add(Long.toString(c.getAcquire(i * STRIDE + counter)));
        return j.toString();
    }

    /** Loop indices, first registered first (after the latch: every loop has written its slot). */
    private static String orderText(int[] order) {
        int[] byOrder = new int[order.length];
        for (int i = 0; i < order.length; i++) byOrder[order[i]] = i;
        StringJoiner j = new StringJoiner(",");
        for (int i : byOrder) j.add(Integer.toString(i));
        return j.toString();
    }

    private static void report(Options o, AtomicLongArray c, double seconds, String order) {
        long max = Long.MIN_VALUE, min = Long.MAX_VALUE, total = 0;
        for (int i = 0; i < o.loops(); i++) {
            long a = c.getAcquire(i * STRIDE + C_ACCEPTS);
            max = Math.max(max, a);
            min = Math.min(min, a);
            total += a;
            StringJoiner j = new StringJoiner(" ");
            for (int k = 0; k < N_COUNTERS; k++) j.add(NAMES[k] + "=" + c.getAcquire(i * STRIDE + k));
            System.out.println("loop " + i + ": " + j);
        }
        String ratio = min == 0 ? (max == 0 ? "n/a" : "inf") : String.format(Locale.ROOT, "%.3f", (double) max / min);
        List<String> kv = new ArrayList<>();
        kv.add("mode=" + o.mode());
        kv.add("loops=" + o.loops());
        kv.add("batch=" + o.batch());
        kv.add("stall_loop=" + o.stallLoop());
        kv.add("stall_us=" + (o.stallLoop() >= 0 ? o.stallUs() : 0));
        kv.add("registration_order=" + order);
        kv.add("seconds=" + String.format(Locale.ROOT, "%.2f", seconds));
        kv.add("total_accepts=" + total);
        kv.add("ratio=" + ratio);
        kv.add("within20=" + (min > 0 && max <= min * 1.2 ? "yes" : "no"));
        for (int k = 0; k < N_COUNTERS; k++) kv.add(NAMES[k] + "=" + list(c, o.loops(), k));
        System.out.println("RESULT " + String.join(" ", kv));
        System.out.flush();
    }

    /** One event loop: its epoll set holds the listening socket it was given and its connections. */
    private static final class Loop implements Runnable {
        private final int index;
        private final int lfd;
        private final int listenEvents;
        private final int batch;
        private final long stallNs;
        private final AtomicLongArray out;
        private final long deadline;
        private final CountDownLatch registered;
        private final AtomicReference<String> failure;
        private final int[] order;
        private final AtomicInteger nextOrder;
        private final long[] n = new long[N_COUNTERS];

        Loop(int index, int lfd, int listenEvents, int batch, long stallNs, AtomicLongArray out, long deadline,
             CountDownLatch registered, AtomicReference<String> failure, int[] order, AtomicInteger nextOrder) {
            this.index = index;
            this.lfd = lfd;
            this.listenEvents = listenEvents;
            this.batch = batch;
            this.stallNs = stallNs;
            this.out = out;
            this.deadline = deadline;
            this.registered = registered;
            this.failure = failure;
            this.order = order;
            this.nextOrder = nextOrder;
        }

        @Override
        public void run() {
            Syscalls sys = Syscalls.newInstance();
            int ep = sys.epollCreate1(FdConst.EPOLL_CLOEXEC);
            if (ep < 0) {
                failure.compareAndSet(null, "loop " + index + ": epoll_create1: " + Errno.describe(ep));
                registered.countDown();
                return;
            }
            int r = sys.epollCtl(ep, FdConst.EPOLL_CTL_ADD, lfd, listenEvents, LISTENER_TAG | lfd);
            order[index] = nextOrder.getAndIncrement();
            registered.countDown();
            if (r < 0) {
                failure.compareAndSet(null, "loop " + index + ": epoll_ctl(ADD listener): " + Errno.describe(r));
                sys.close(ep);
                return;
            }
            // fds of this loop's open connections (index = fd), to close them all at the end
            int cap = (int) Math.min(1 << 20, Math.max(1024, sys.getNofileLimit()[0]));
            boolean[] open = new boolean[cap];
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment events = arena.allocate(MAX_EVENTS * Syscalls.EPOLL_EVENT_SIZE, 8);
                MemorySegment buf = arena.allocate(BUF, 8);
                while (!stop && System.nanoTime() - deadline < 0) {
                    int k = sys.epollWait(ep, events, MAX_EVENTS, WAIT_MS);
                    if (k < 0) {
                        if (-k != Errno.EINTR) n[C_ERRORS]++;
                        continue;
                    }
                    if (k > 0) n[C_WAKEUPS]++;
                    for (int i = 0; i < k; i++) {
                        long data = Syscalls.eventData(events, i);
                        n[C_EVENTS]++;
                        if ((data & LISTENER_TAG) != 0) {
                            acceptBatch(sys, ep, open);
                        } else {
                            echo(sys, (int) data, buf, open);
                        }
                        if (stallNs > 0) LockSupport.parkNanos(stallNs);
                    }
                    for (int c = 0; c < N_COUNTERS; c++) out.setRelease(index * STRIDE + c, n[c]);
                }
            } finally {
                for (int fd = 0; fd < open.length; fd++) {
                    if (open[fd]) sys.close(fd);
                }
                sys.close(ep);
                for (int c = 0; c < N_COUNTERS; c++) out.setRelease(index * STRIDE + c, n[c]);
            }
        }

        private void acceptBatch(Syscalls sys, int ep, boolean[] open) {
            n[C_LEVENTS]++;
            for (int i = 0; i < batch; i++) {
                int c = sys.accept4(lfd, SockConst.SOCK_NONBLOCK | SockConst.SOCK_CLOEXEC);
                if (c < 0) {
                    if (-c == Errno.EAGAIN) {
                        if (i == 0) n[C_EMPTY]++;   // another loop took it first
                        return;
                    }
                    n[C_ERRORS]++;                  // ECONNABORTED, EMFILE...: count, go on
                    if (-c == Errno.EMFILE || -c == Errno.ENFILE) return;
                    continue;
                }
                n[C_ACCEPTS]++;
                if (c >= open.length || sys.epollCtl(ep, FdConst.EPOLL_CTL_ADD, c, FdConst.EPOLLIN, c) < 0) {
                    n[C_ERRORS]++;
                    sys.close(c);
                    n[C_CLOSED]++;
                    continue;
                }
                open[c] = true;
            }
        }

        private void echo(Syscalls sys, int fd, MemorySegment buf, boolean[] open) {
            long got = sys.recv(fd, buf, 0, BUF, 0);
            if (got > 0) {
                long sent = sys.send(fd, buf, 0, got, SockConst.MSG_NOSIGNAL);
                if (sent == got) {
                    n[C_BYTES] += got;
                    return;
                }
                n[C_ERRORS]++;                      // short send: never with 64 bytes on loopback
            } else if (got == -Errno.EAGAIN) {
                return;
            } else if (got < 0) {
                n[C_ERRORS]++;                      // reset by the client: close too
            }
            open[fd] = false;
            sys.close(fd);                          // also leaves the epoll set (no dup of it)
            n[C_CLOSED]++;
        }
    }
}
