package org.forwarder.proxy;

import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProxyCounter;
import org.forwarder.sys.SockAddr;

/** A server of a backend at run time: its address, weight, connection slots and counters. */
public final class Server {
    final String name;
    final SockAddr address;
    final int weight;
    final int maxconn;
    int current;
    /** Smooth weighted round-robin state. */
    int rrCurrent;
    private final CounterBlock<ProxyCounter> stats;

    public Server(String name, SockAddr address, int weight, int maxconn, CounterBlock<ProxyCounter> stats) {
        this.name = name;
        this.stats = stats;
        this.address = address;
        this.weight = weight;
        this.maxconn = maxconn;
    }

    public String name() { return name; }
    public SockAddr address() { return address; }
    public int current() { return current; }
    /** This server's figures as this loop counts them. */
    public CounterBlock<ProxyCounter> stats() { return stats; }

    boolean hasSlot() {
        return weight > 0 && (maxconn == 0 || current < maxconn);
    }

    public void take() {
        current++;
        stats.inc(ProxyCounter.STOT);
        stats.add(ProxyCounter.SCUR, 1);
    }

    public void release() {
        current--;
        stats.add(ProxyCounter.SCUR, -1);
    }
}
