package org.forwarder.check;

import org.forwarder.proxy.Backend;
import org.forwarder.proxy.Proxies;
import org.forwarder.proxy.Server;
import org.forwarder.proxy.Worker;

/**
 * Gives every server with {@code check} its {@link Checker}, spread over the loops (the k-th
 * checked server of the process on loop k mod loops). The first checks are staggered over the
 * first interval, as HAProxy spreads its start, so N servers are not all checked in one burst.
 */
public final class Checks {
    private Checks() {}

    /** Before the loops' threads start. */
    public static void start(Proxies proxies, Worker[] loops) {
        if (loops.length == 0) return;
        int total = 0;
        for (Backend be : proxies.backends()) for (Server s : be.servers()) if (s.check().check()) total++;
        int k = 0;
        for (Backend be : proxies.backends()) {
            long connectMs = be.config().timeouts().connectMs();
            for (Server s : be.servers()) {
                if (!s.check().check()) continue;
                Worker w = loops[k % loops.length];
                Checker c = new Checker(w, be, s, connectMs);
                c.start(s.check().interMs() * k / total);
                w.addCheck(c::stop);
                k++;
            }
        }
    }

    /**
     * {@code observe layer4} took {@code sv} DOWN after {@code errors} failed connects in a row
     * (on the loop of the stream that saw the last one): the log line and the actions of a DOWN.
     */
    public static void observedDown(Worker w, Backend be, Server sv, int errors) {
        Events.stateChanged(w, be, sv, false, "HANA",
                "Detected " + errors + " consecutive errors, last one was: L4 unsuccessful connection", -1);
    }
}
