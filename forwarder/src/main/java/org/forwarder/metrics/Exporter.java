package org.forwarder.metrics;

import org.forwarder.config.BindConfig;
import org.forwarder.config.PrometheusConfig;
import org.forwarder.io.Sock;
import org.forwarder.poll.FdHandler;
import org.forwarder.poll.Poller;
import org.forwarder.sys.Errno;
import org.forwarder.sys.SockAddr;
import org.forwarder.sys.Syscalls;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One Prometheus exporter frontend on the control loop: its listening sockets, its scrapers
 * (at most {@code maxconn}: the listeners stop accepting at the limit and resume when one
 * leaves, the kernel's backlog holding the rest) and the one native buffer their reads and
 * writes go through (one loop, one call at a time). Why on the control loop: a scrape renders
 * every figure, which must cost no forwarding loop a pass.
 */
public final class Exporter {
    static final int IO_CHUNK = 16 * 1024;
    private static final int BACKLOG = 16;

    final Poller poller;
    final PrometheusConfig config;
    final Scrape scrape;
    final MemorySegment io;
    private final Arena arena = Arena.ofShared();
    private final List<Listener> listeners = new ArrayList<>();
    private final Set<HttpConnection> open = new LinkedHashSet<>();

    private Exporter(Poller poller, PrometheusConfig config, Scrape scrape) {
        this.poller = poller;
        this.config = config;
        this.scrape = scrape;
        this.io = arena.allocate(IO_CHUNK);
    }

    /** Binds every address of {@code config}; throws naming the frontend, its line, the address and errno. */
    public static Exporter open(Poller poller, PrometheusConfig config, Scrape scrape) {
        Exporter e = new Exporter(poller, config, scrape);
        try {
            for (BindConfig b : config.binds()) e.listeners.add(e.listen(b));
        } catch (RuntimeException ex) {
            e.close();
            throw ex;
        }
        return e;
    }

    /** Where the listeners are bound (the kernel's port for port 0). */
    public List<SockAddr> boundAddresses() {
        return listeners.stream().map(l -> l.bound).toList();
    }

    private Listener listen(BindConfig b) {
        Syscalls sys = poller.sys();
        SockAddr a = b.address();
        String name = "Prometheus exporter frontend '" + config.name() + "' bind " + a + " (" + b.where() + ")";
        int fd = Sock.open(sys, a.family());
        if (fd < 0) throw new IllegalStateException(name + ": socket: " + Errno.describe(fd));
        try {
            check(Sock.reuseAddress(sys, fd), name, "SO_REUSEADDR");
            check(sys.bind(fd, a), name, "bind");
            check(sys.listen(fd, BACKLOG), name, "listen");
            return new Listener(fd, sys.getsockname(fd));
        } catch (RuntimeException e) {
            sys.close(fd);
            throw e;
        }
    }

    private static void check(int r, String name, String what) {
        if (r < 0) throw new IllegalStateException(name + ": " + what + ": " + Errno.describe(r));
    }

    boolean full() {
        return open.size() >= config.maxconn();
    }

    /** How many scrapers are connected (control loop thread). */
    int count() {
        return open.size();
    }

    private void accepted(int fd) {
        if (fd >= poller.fdTab().capacity()) { // beyond what the configuration budgets: refuse, never die
            poller.sys().close(fd);
            return;
        }
        HttpConnection c = new HttpConnection(this, fd);
        open.add(c);
        c.start();
    }

    void closed(HttpConnection c) {
        if (open.remove(c) && !full()) {
            for (Listener l : listeners) l.resume();
        }
    }

    /** Closes the scrapers and the listening sockets (control loop thread, or after it stopped). */
    public void close() {
        for (HttpConnection c : List.copyOf(open)) c.close();
        for (Listener l : listeners) l.close();
        listeners.clear();
        arena.close();
    }

    /** One listening socket: accepts while there is room. */
    private final class Listener implements FdHandler {
        private final int fd;
        final SockAddr bound;
        private boolean paused;

        Listener(int fd, SockAddr bound) {
            this.fd = fd;
            this.bound = bound;
            poller.fdTab().register(fd, this, true, false);
            poller.fdTab().wantRecv(fd);
        }

        @Override
        public void onIo(int ignored) {
            Syscalls sys = poller.sys();
            while (!paused) {
                if (full()) {
                    paused = true;
                    poller.fdTab().stopRecv(fd);
                    return;
                }
                int c = Sock.accept(sys, fd);
                if (c < 0) {
                    if (c == -Errno.EINTR) continue;
                    poller.fdTab().cantRecv(fd); // EAGAIN, or out of fds: wait for the next event
                    return;
                }
                accepted(c);
            }
        }

        void resume() {
            if (!paused) return;
            paused = false;
            poller.fdTab().mayRecv(fd);
            poller.fdTab().wantRecv(fd);
        }

        void close() {
            poller.fdTab().unregister(fd);
            poller.sys().close(fd);
        }
    }
}
