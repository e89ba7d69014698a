package org.forwarder.proxy;

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
    long connectFailures;

    public Server(String name, SockAddr address, int weight, int maxconn) {
        this.name = name;
        this.address = address;
        this.weight = weight;
        this.maxconn = maxconn;
    }

    public String name() { return name; }
    public SockAddr address() { return address; }
    public int current() { return current; }
    public long connectFailures() { return connectFailures; }

    boolean hasSlot() {
        return weight > 0 && (maxconn == 0 || current < maxconn);
    }

    public void take() {
        current++;
    }

    public void release() {
        current--;
    }

    public void connectFailed() {
        connectFailures++;
    }
}
