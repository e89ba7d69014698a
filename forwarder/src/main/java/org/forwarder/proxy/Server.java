package org.forwarder.proxy;

import org.forwarder.stats.SharedMax;
import org.forwarder.sys.SockAddr;

/**
 * A server of a backend at run time, shared by every event loop: its address, weight and
 * connection slots. {@link #current} (slots held: connecting or connected streams) and the
 * round-robin state change only under the owning {@link Backend}'s lock, once per connect and per
 * close; any thread may read {@link #current()} (leastconn compares it, the stats read it).
 * Its counters are per loop: a stream counts into its own loop's block of row {@link #statsRow}.
 */
public final class Server {
    final String name;
    final SockAddr address;
    final int weight;
    final int maxconn;
    /** The server's row in the stats registry. */
    final int statsRow;
    /** Slots held; written under the backend's lock, read anywhere. */
    private volatile int current;
    /** Smooth weighted round-robin state (under the backend's lock). */
    int rrCurrent;
    /** Most slots held at once (smax), raised in {@link #take} under the backend's lock. */
    private final SharedMax smax;

    Server(String name, SockAddr address, int weight, int maxconn, int statsRow, SharedMax smax) {
        this.name = name;
        this.address = address;
        this.weight = weight;
        this.maxconn = maxconn;
        this.statsRow = statsRow;
        this.smax = smax;
    }

    public String name() { return name; }
    public SockAddr address() { return address; }
    /** Slots held now, over all loops. */
    public int current() { return current; }

    /** Under the backend's lock. */
    boolean hasSlot() {
        return weight > 0 && (maxconn == 0 || current < maxconn);
    }

    /** Takes a slot (under the backend's lock). */
    void take() {
        int c = current + 1;
        current = c;
        smax.update(c);
    }

    /** Gives a slot back (under the backend's lock). */
    void release() {
        current = current - 1;
    }
}
