package org.forwarder.bench.relay;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/**
 * The command line shared by the comparison relays:
 * {@code --listen 127.0.0.1:PORT --connect HOST:PORT [--threads N] [--splice]}. Checked in full
 * (unknown flag, a flag given twice, a missing value, a listen address that is not loopback) so a
 * benchmark script never measures a relay that silently ignored part of what it was told.
 * Addresses are numeric literals only: a relay under test must not wait on a resolver.
 */
public record RelayArgs(InetSocketAddress listen, InetSocketAddress connect, int threads, boolean splice) {
    static final int MAX_THREADS = 64;

    /** A command line that cannot be run; the message is one line naming the problem. */
    public static final class UsageException extends Exception {
        public UsageException(String message) {
            super(message);
        }
    }

    /** Parses {@code args}; {@code spliceAllowed} says whether {@code --splice} is a known flag. */
    public static RelayArgs parse(String[] args, boolean spliceAllowed) throws UsageException {
        InetSocketAddress listen = null;
        InetSocketAddress connect = null;
        Integer threads = null;
        boolean splice = false;
        for (int i = 0; i < args.length; i++) {
            String flag = args[i];
            switch (flag) {
                case "--listen" -> {
                    if (listen != null) throw new UsageException("--listen given twice");
                    listen = address(flag, value(args, i++), 0);
                    if (!listen.getAddress().isLoopbackAddress())
                        throw new UsageException("--listen " + args[i] + ": not a loopback address");
                }
                case "--connect" -> {
                    if (connect != null) throw new UsageException("--connect given twice");
                    connect = address(flag, value(args, i++), 1);
                }
                case "--threads" -> {
                    if (threads != null) throw new UsageException("--threads given twice");
                    String v = value(args, i++);
                    try {
                        threads = Integer.parseInt(v);
                    } catch (NumberFormatException e) {
                        throw new UsageException("--threads " + v + ": not a number");
                    }
                    if (threads < 1 || threads > MAX_THREADS)
                        throw new UsageException("--threads " + v + ": must be 1.." + MAX_THREADS);
                }
                case "--splice" -> {
                    if (!spliceAllowed) throw new UsageException("unknown flag --splice");
                    if (splice) throw new UsageException("--splice given twice");
                    splice = true;
                }
                default -> throw new UsageException("unknown " + (flag.startsWith("-") ? "flag " : "argument ") + flag);
            }
        }
        if (listen == null) throw new UsageException("--listen is required");
        if (connect == null) throw new UsageException("--connect is required");
        return new RelayArgs(listen, connect, threads == null ? 1 : threads, splice);
    }

    private static String value(String[] args, int i) throws UsageException {
        if (i + 1 >= args.length || args[i + 1].startsWith("--"))
            throw new UsageException(args[i] + " needs a value");
        return args[i + 1];
    }

    private static InetSocketAddress address(String flag, String v, int minPort) throws UsageException {
        int colon = v.lastIndexOf(':');
        if (colon <= 0) throw new UsageException(flag + " " + v + ": expected ADDRESS:PORT");
        String host = v.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        if (!host.matches("[0-9.]+|[0-9a-fA-F:]*:[0-9a-fA-F:.]*"))
            throw new UsageException(flag + " " + v + ": the address must be a numeric IP");
        int port;
        try {
            port = Integer.parseInt(v.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new UsageException(flag + " " + v + ": port is not a number");
        }
        if (port < minPort || port > 65535)
            throw new UsageException(flag + " " + v + ": port must be " + minPort + "..65535");
        try {
            return new InetSocketAddress(InetAddress.getByName(host), port);
        } catch (UnknownHostException e) {
            throw new UsageException(flag + " " + v + ": not an IP address");
        }
    }

    /** What both mains do with a bad command line: one line on stderr, exit status 2. */
    static RelayArgs parseOrExit(String name, String[] args, boolean spliceAllowed) {
        try {
            return parse(args, spliceAllowed);
        } catch (UsageException e) {
            System.err.println(name + ": " + e.getMessage());
            System.exit(2);
            return null;
        }
    }
}
