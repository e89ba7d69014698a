package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.forwarder.linux.sockaddr_in;
import org.forwarder.linux.sockaddr_in6;
import org.forwarder.linux.sockaddr_storage;
import org.forwarder.linux.sockaddr_un;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * An IPv4, IPv6 or Unix socket address held in native memory, ready to pass to bind/connect, plus
 * parsing and formatting in HAProxy's notation: {@code 127.0.0.1:8080}, {@code [::1]:8080},
 * {@code :8080} and {@code *:8080} (all IPv4 addresses), {@code ipv6@:::8080}, {@code host:port}.
 * A Unix address (the stats socket) is only ever built from a path, by {@link #unix(String)}:
 * {@link #parse(String)} keeps reading {@code host:port} alone, so a path cannot slip into a
 * TCP {@code bind} line unnoticed.
 * Instances are immutable once built; parsing happens at configuration time, never per event.
 */
public final class SockAddr {
    private static final int AF_INET = Linux.AF_INET();
    private static final int AF_INET6 = Linux.AF_INET6();
    private static final int AF_UNIX = Linux.AF_UNIX();
    private static final long SUN_PATH = sockaddr_un.sun_path$offset();
    /** Bytes of a Unix path, without its NUL: sun_path holds 108 bytes, the last one the NUL. */
    public static final int UNIX_PATH_MAX = (int) sockaddr_un.sun_path$layout().byteSize() - 1;

    private final MemorySegment storage;
    private final int length;
    private final int family;
    private final InetAddress address;
    private final int port;
    /** A Unix address's path ("" for an unnamed socket, "@name" for an abstract one); null otherwise. */
    private final String path;

    private SockAddr(InetAddress address, int port) {
        this.address = address;
        this.port = port;
        this.path = null;
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

    /**
     * A Unix address in native memory: {@code sun_path} holds {@code raw} then, for a path on the
     * file system, a NUL, which the length counts (as the kernel's getsockname does). An abstract
     * name (raw starting with a NUL) has no terminator; an empty raw is an unnamed socket.
     */
    private SockAddr(String path, byte[] raw) {
        this.address = null;
        this.port = 0;
        this.path = path;
        this.family = AF_UNIX;
        this.storage = Arena.ofAuto().allocate(sockaddr_storage.layout());
        sockaddr_un.sun_family(storage, (short) AF_UNIX);
        MemorySegment.copy(raw, 0, storage, ValueLayout.JAVA_BYTE, SUN_PATH, raw.length);
        boolean terminated = raw.length > 0 && raw[0] != 0;
        this.length = (int) SUN_PATH + raw.length + (terminated ? 1 : 0);
    }

    /**
     * The address of a Unix stream socket at {@code path} on the file system, for bind and
     * connect. The kernel takes at most {@value #UNIX_PATH_MAX} bytes (UTF-8) and a NUL.
     *
     * @throws IllegalArgumentException naming the path when it is empty, holds a NUL or is too long
     */
    public static SockAddr unix(String path) {
        if (path.isEmpty()) {
            throw new IllegalArgumentException("empty Unix socket path");
        }
        if (path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("Unix socket path '" + path.replace("\0", "\\0")
                    + "' contains a NUL character");
        }
        byte[] raw = path.getBytes(StandardCharsets.UTF_8);
        if (raw.length > UNIX_PATH_MAX) {
            throw new IllegalArgumentException("Unix socket path '" + path + "' is " + raw.length
                    + " bytes long, more than the " + UNIX_PATH_MAX + " a Unix socket address holds");
        }
        return new SockAddr(path, raw);
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
        return fromNative(sockaddr, sockaddr.byteSize());
    }

    /**
     * Reads an address of {@code length} bytes (the socklen_t the kernel returned) that the kernel
     * wrote into a sockaddr_storage. The length matters for a Unix address only: an unnamed socket
     * (a client that did not bind) has none beyond the family, and an abstract name is not
     * NUL-terminated; its name is given as {@code @} then its bytes after the leading NUL.
     */
    public static SockAddr fromNative(MemorySegment sockaddr, long length) {
        int fam = Short.toUnsignedInt(sockaddr_in.sin_family(sockaddr));
        if (fam == AF_UNIX) {
            long end = Math.min(Math.min(length, sockaddr.byteSize()), SUN_PATH + UNIX_PATH_MAX + 1);
            byte[] raw = end > SUN_PATH ? sockaddr.asSlice(SUN_PATH, end - SUN_PATH).toArray(ValueLayout.JAVA_BYTE) : new byte[0];
            if (raw.length == 0) return new SockAddr("", raw);
            if (raw[0] == 0) {
                return new SockAddr("@" + new String(raw, 1, raw.length - 1, StandardCharsets.UTF_8), raw);
            }
            int n = 0;
            while (n < raw.length && raw[n] != 0) n++;
            return new SockAddr(new String(raw, 0, n, StandardCharsets.UTF_8), Arrays.copyOf(raw, n));
        }
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
    /** The IP address; null for a Unix address. */
    public InetAddress address() { return address; }
    /** Whether this is a Unix (AF_UNIX) address. */
    public boolean isUnix() { return path != null; }
    /**
     * A Unix address's path: as given to {@link #unix(String)}, "" for an unnamed socket, "@name"
     * for an abstract one; null for an IP address.
     */
    public String path() { return path; }

    /** This address with another port (e.g. the port the kernel chose for port 0). */
    public SockAddr withPort(int newPort) {
        if (path != null) throw new IllegalStateException("the Unix address '" + path + "' has no port");
        return of(address, newPort);
    }

    @Override
    public String toString() {
        if (path != null) return "unix@" + path;
        return family == AF_INET6 ? "[" + hostText(address) + "]:" + port : hostText(address) + ":" + port;
    }

    /**
     * An IP address as inet_ntop writes it (and so HAProxy's outputs): IPv4 dotted, IPv6 in the
     * RFC 5952 short form ({@code ::1}, {@code 2001:db8::1}: lower case, no leading zeros, the
     * longest run of two or more zero groups as {@code ::}), where Java writes every group.
     */
    public static String hostText(InetAddress a) {
        if (!(a instanceof java.net.Inet6Address)) return a.getHostAddress();
        return ipv6Text(a.getAddress());
    }

    /**
     * The 16 bytes of an IPv6 address as inet_ntop writes them, an IPv4-mapped one as
     * {@code ::ffff:a.b.c.d} (Java's InetAddress would turn it into a plain IPv4 address).
     */
    public static String ipv6Text(byte[] b) {
        if (b.length != 16) throw new IllegalArgumentException("an IPv6 address has 16 bytes, not " + b.length);
        boolean mapped = (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff;
        for (int i = 0; i < 10 && mapped; i++) mapped = b[i] == 0;
        if (mapped) return "::ffff:" + (b[12] & 0xff) + "." + (b[13] & 0xff) + "." + (b[14] & 0xff) + "." + (b[15] & 0xff);
        int[] g = new int[8];
        for (int i = 0; i < 8; i++) g[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        int bestStart = -1, bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (g[i] != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && g[j] == 0) j++;
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        if (bestLen < 2) bestStart = -1;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                sb.append("::");
                i += bestLen - 1;
                continue;
            }
            if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') sb.append(':');
            sb.append(Integer.toHexString(g[i]));
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SockAddr other)) return false;
        if (path != null || other.path != null) return path != null && path.equals(other.path);
        return other.port == port && other.address.equals(address);
    }

    @Override
    public int hashCode() { return path != null ? path.hashCode() : address.hashCode() * 31 + port; }
}
