package org.forwarder.config;

import org.forwarder.sys.SockAddr;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns the address words of {@code bind} and {@code server} into SockAddrs. Adds to
 * SockAddr.parse what is specific to those keywords: comma lists and port ranges for bind,
 * a real port for server, and a clear refusal of families such as {@code unix@}.
 * Errors are IllegalArgumentExceptions naming the offending text.
 */
final class Addresses {

    private Addresses() {}

    /** {@code ADDR:PORT[,ADDR:PORT...]}, where a port may be a range {@code LOW-HIGH}; port 0 asks the kernel for one. */
    static List<SockAddr> bindList(String text) {
        List<SockAddr> out = new ArrayList<>();
        for (String part : text.split(",", -1)) {
            if (part.isBlank()) {
                throw new IllegalArgumentException("'" + text + "' has an empty address in its list");
            }
            out.addAll(withRange(part.trim()));
        }
        return out;
    }

    /** {@code ADDR:PORT} of a server: one address with a non-zero port (the port to connect to). */
    static SockAddr server(String text) {
        checkFamily(text);
        SockAddr a = SockAddr.parse(text);
        if (a.port() == 0) {
            throw new IllegalArgumentException("'" + text + "' has port 0: a server needs the port to connect to");
        }
        return a;
    }

    private static List<SockAddr> withRange(String text) {
        checkFamily(text);
        int portStart = portStart(text);
        int dash = portStart < 0 ? -1 : text.indexOf('-', portStart);
        if (dash < 0) return List.of(SockAddr.parse(text));
        int low = rangeEnd(text, text.substring(portStart, dash));
        int high = rangeEnd(text, text.substring(dash + 1));
        if (low > high) {
            throw new IllegalArgumentException("'" + text + "': port range " + low + "-" + high + " runs backwards");
        }
        SockAddr first = SockAddr.parse(text.substring(0, portStart) + low);
        List<SockAddr> out = new ArrayList<>(high - low + 1);
        for (int p = low; p <= high; p++) out.add(first.withPort(p));
        return out;
    }

    /** Index of the first port character, or -1 when there is no port separator. */
    private static int portStart(String text) {
        int close = text.lastIndexOf(']');
        int colon = text.lastIndexOf(':');
        return colon > close ? colon + 1 : -1;
    }

    private static int rangeEnd(String text, String port) {
        try {
            return Values.integer(port, 1, 65535);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "': '" + port + "' in the port range is not a port from 1 to 65535");
        }
    }

    /** HAProxy also accepts unix@, abns@, fd@, udp@, quic4@...; forwarder only speaks TCP over IPv4/IPv6. */
    private static void checkFamily(String text) {
        int at = text.indexOf('@');
        if (at <= 0) return;
        String prefix = text.substring(0, at + 1);
        if (prefix.equals("ipv4@") || prefix.equals("ipv6@")) return;
        if (prefix.chars().limit(at).allMatch(c -> Character.isLetterOrDigit(c) || c == '-')) {
            throw new IllegalArgumentException("'" + text + "': address family '" + prefix
                    + "' is not supported by forwarder (only ipv4@ and ipv6@ TCP addresses)");
        }
    }
}
