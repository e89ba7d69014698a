package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.forwarder.linux.sockaddr_in;
import org.forwarder.linux.sockaddr_in6;
import org.forwarder.linux.sockaddr_storage;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * An IPv4 or IPv6 socket address held in native memory, ready to pass to bind/connect, plus
 * parsing and formatting in HAProxy's notation: {@code 127.0.0.1:8080}, {@code [::1]:8080},
 * {@code :8080} and {@code *:8080} (all IPv4 addresses), {@code ipv6@:::8080}, {@code host:port}.
 * Instances are immutable once built; parsing happens at configuration time, never per event.
 */
public final class SockAddr {
    private static final int AF_INET = Linux.AF_INET();
    private static final int AF_INET6 = Linux.AF_INET6();

    private final MemorySegment storage;
    private final int length;
    private final int family;
    private final InetAddress address;
    private final int port;

    private SockAddr(InetAddress address, int port) {
        this.address = address;
        this.port = port;
        this.storage = Arena.ofAuto().allocate(sockaddr_storage.layout());
        if (address instanceof Inet4Address) {
            family = AF_INET;
            length = (int) sockaddr_in.sizeof();
            sockaddr_in.sin_family(storage, (short) AF_INET);
            sockaddr_in.sin_port(storage, Short.reverseBytes((short) port));
            MemorySegment.copy(address.getAddress(), 0, storage, ValueLayout.JAVA_BYTE, sockaddr_in.sin_addr$offset(), 4);
        } else {
            family = AF_INET6;
            length = (int) sockaddr_in6.sizeof();
            sockaddr_in6.sin6_family(storage, (short) AF_INET6);
            sockaddr_in6.sin6_port(storage, Short.reverseBytes((short) port));
            MemorySegment.copy(address.getAddress(), 0, storage, ValueLayout.JAVA_BYTE, sockaddr_in6.sin6_addr$offset(), 16);
            if (address instanceof Inet6Address a6) {
                sockaddr_in6.sin6_scope_id(storage, a6.getScopeId());
            }
        }
    }

    public static SockAddr of(InetAddress address, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is out of range 0-65535");
        }
        return new SockAddr(address, port);
    }

    /**
     * Parses {@code host:port}. An empty host or {@code *} means every IPv4 address (as in
     * HAProxy's {@code bind :80}). Host names are resolved here, once, like HAProxy does at start.
     *
     * @throws IllegalArgumentException naming what is wrong with the text
     */
    public static SockAddr parse(String text) {
        String s = text.trim();
        if (s.startsWith("ipv4@")) s = s.substring(5);
        boolean forceV6 = false;
        if (s.startsWith("ipv6@")) {
            s = s.substring(5);
            forceV6 = true;
        }
        String host;
        String portText;
        boolean bracketed = s.startsWith("[");
        if (bracketed) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("'" + text + "' is not an address: expected [ipv6]:port");
            }
            host = s.substring(1, close);
            portText = s.substring(close + 2);
        } else {
            int colon = s.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalArgumentException("'" + text + "' has no port: expected host:port");
            }
            host = s.substring(0, colon);
            portText = s.substring(colon + 1);
            if (host.indexOf(':') >= 0 && !forceV6) {
                throw new IllegalArgumentException("'" + text + "': write an IPv6 address in brackets, as [::1]:port");
            }
        }
        int port = parsePort(text, portText);
        InetAddress address;
        try {
            if (host.isEmpty() || host.equals("*")) {
                address = forceV6 ? InetAddress.ofLiteral("::") : InetAddress.ofLiteral("0.0.0.0");
            } else if (looksLiteral(host)) {
                address = InetAddress.ofLiteral(host);
            } else {
                address = InetAddress.getByName(host);
            }
            if ((forceV6 || bracketed) && address instanceof Inet4Address v4) {
                address = mapped(v4); // [::ffff:a.b.c.d] stays an IPv6 address
            }
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "': '" + host + "' is not a valid IP address");
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("'" + text + "': cannot resolve host '" + host + "'");
        }
        return new SockAddr(address, port);
    }

    private static InetAddress mapped(Inet4Address v4) throws UnknownHostException {
        byte[] a = new byte[16];
        a[10] = (byte) 0xff;
        a[11] = (byte) 0xff;
        System.arraycopy(v4.getAddress(), 0, a, 12, 4);
        return Inet6Address.getByAddress(null, a, -1);
    }

    private static boolean looksLiteral(String host) {
        if (host.indexOf(':') >= 0) return true;
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if ((c < '0' || c > '9') && c != '.') return false;
        }
        return true;
    }

    private static int parsePort(String text, String portText) {
        if (portText.isEmpty()) {
            throw new IllegalArgumentException("'" + text + "' has no port: expected host:port");
        }
        int port = 0;
        for (int i = 0; i < portText.length(); i++) {
            char c = portText.charAt(i);
            if (c < '0' || c > '9' || port > 65535) {
                throw new IllegalArgumentException("'" + text + "': port '" + portText + "' is not a number from 0 to 65535");
            }
            port = port * 10 + (c - '0');
        }
        if (port > 65535) {
            throw new IllegalArgumentException("'" + text + "': port '" + portText + "' is not a number from 0 to 65535");
        }
        return port;
    }

    /** Reads an address that the kernel wrote (getsockname, getpeername) into a sockaddr_storage. */
    public static SockAddr fromNative(MemorySegment sockaddr) {
        int fam = Short.toUnsignedInt(sockaddr_in.sin_family(sockaddr));
        try {
            if (fam == AF_INET) {
                byte[] a = new byte[4];
                MemorySegment.copy(sockaddr, ValueLayout.JAVA_BYTE, sockaddr_in.sin_addr$offset(), a, 0, 4);
                int p = Short.toUnsignedInt(Short.reverseBytes(sockaddr_in.sin_port(sockaddr)));
                return new SockAddr(InetAddress.getByAddress(a), p);
            }
            if (fam == AF_INET6) {
                byte[] a = new byte[16];
                MemorySegment.copy(sockaddr, ValueLayout.JAVA_BYTE, sockaddr_in6.sin6_addr$offset(), a, 0, 16);
                int p = Short.toUnsignedInt(Short.reverseBytes(sockaddr_in6.sin6_port(sockaddr)));
                int scope = sockaddr_in6.sin6_scope_id(sockaddr);
                // Inet6Address.getByAddress keeps ::ffff:a.b.c.d as IPv6 (getByAddress would not)
                return new SockAddr(Inet6Address.getByAddress(null, a, scope == 0 ? -1 : scope), p);
            }
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalArgumentException("unsupported address family " + fam);
    }

    public MemorySegment segment() { return storage; }
    public int length() { return length; }
    public int family() { return family; }
    public int port() { return port; }
    public InetAddress address() { return address; }

    /** This address with another port (e.g. the port the kernel chose for port 0). */
    public SockAddr withPort(int newPort) { return of(address, newPort); }

    @Override
    public String toString() {
        return family == AF_INET6 ? "[" + address.getHostAddress() + "]:" + port : address.getHostAddress() + ":" + port;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SockAddr other && other.port == port && other.address.equals(address);
    }

    @Override
    public int hashCode() { return address.hashCode() * 31 + port; }
}
