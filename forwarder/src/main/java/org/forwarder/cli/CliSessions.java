package org.forwarder.cli;

import org.forwarder.config.StatsConfig;
import org.forwarder.poll.Poller;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The CLI clients of the control loop: at most {@code stats maxconn} at once (the listeners stop
 * accepting at the limit and resume when one leaves), and the one native buffer their reads and
 * writes go through (one loop, one call at a time).
 */
final class CliSessions {
    static final int IO_CHUNK = 16 * 1024;

    final Poller poller;
    final StatsConfig config;
    final CliCommands commands;
    final MemorySegment io;
    private final Arena arena = Arena.ofShared();
    private final Set<CliSession> open = new LinkedHashSet<>();
    private final List<CliListener> listeners = new ArrayList<>();

    CliSessions(Poller poller, StatsConfig config, CliCommands commands) {
        this.poller = poller;
        this.config = config;
        this.commands = commands;
        this.io = arena.allocate(IO_CHUNK);
    }

    void addListener(CliListener l) {
        listeners.add(l);
    }

    boolean full() {
        return open.size() >= config.maxconn();
    }

    /** How many clients are connected (control loop thread). */
    int count() {
        return open.size();
    }

    void open(int fd, StatsConfig.Level level) {
        if (fd >= poller.fdTab().capacity()) { // beyond what the configuration budgets: refuse, never die
            poller.sys().close(fd);
            return;
        }
        CliSession s = new CliSession(this, fd, level);
        open.add(s);
        s.start();
    }

    void closed(CliSession s) {
        if (open.remove(s) && !full()) {
            for (CliListener l : listeners) l.resume();
        }
    }

    void closeAll() {
        for (CliSession s : List.copyOf(open)) s.close();
        arena.close();
    }
}
