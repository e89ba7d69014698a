package org.forwarder.sys;

import org.forwarder.linux.Linux;
import org.forwarder.linux.sockaddr_in;
import org.forwarder.linux.sockaddr_in6;
import org.forwarder.linux.sockaddr_storage;
import org.forwarder.linux.sockaddr_un;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Parsing, formatting and the native form of {@link SockAddr}. No sockets involved. */
class SockAddrTest {

    @Test
    void ipv4WithPort() {
        SockAddr a = SockAddr.parse("127.0.0.1:80");
        assertEquals(Linux.AF_INET(), a.family());
        assertEquals(80, a.port());
        assertEquals(InetAddress.ofLiteral("127.0.0.1"), a.address());
        assertEquals("127.0.0.1:80", a.toString());
        assertEquals(sockaddr_in.sizeof(), a.length());
        assertEquals(16, a.length());

        MemorySegment s = a.segment();
        assertTrue(s.byteSize() >= sockaddr_storage.sizeof());
        assertEquals((short) Linux.AF_INET(), sockaddr_in.sin_family(s));
        // sin_port and sin_addr are in network byte order.
        assertArrayEquals(new byte[] {0, 80}, s.asSlice(sockaddr_in.sin_port$offset(), 2).toArray(ValueLayout.JAVA_BYTE));
        assertArrayEquals(new byte[] {127, 0, 0, 1}, s.asSlice(sockaddr_in.sin_addr$offset(), 4).toArray(ValueLayout.JAVA_BYTE));
        assertArrayEquals(new byte[8], s.asSlice(8, 8).toArray(ValueLayout.JAVA_BYTE), "sin_zero is zero");
    }

    @Test
    void addressesAreWrittenAsInetNtopWritesThem() {
        assertEquals("::1", SockAddr.hostText(InetAddress.ofLiteral("::1")));
        assertEquals("::", SockAddr.hostText(InetAddress.ofLiteral("::")));
        assertEquals("2001:db8::1", SockAddr.hostText(InetAddress.ofLiteral("2001:0db8:0:0:0:0:0:1")));
        assertEquals("2001:db8:0:1:1:1:1:1", SockAddr.hostText(InetAddress.ofLiteral("2001:db8:0:1:1:1:1:1")), "one zero group stays");
        assertEquals("2001:0:0:1::1", SockAddr.hostText(InetAddress.ofLiteral("2001:0:0:1:0:0:0:1")), "the longest run");
        assertEquals("1::", SockAddr.hostText(InetAddress.ofLiteral("1:0:0:0:0:0:0:0")));
        assertEquals("fe80::abcd", SockAddr.hostText(InetAddress.ofLiteral("FE80::ABCD")));
        assertEquals("127.0.0.1", SockAddr.hostText(InetAddress.ofLiteral("127.0.0.1")));
        assertEquals("[::1]:80", SockAddr.parse("[::1]:80").toString());
    }

    @Test
    void ipv6InBracketsWithPort() {
        SockAddr a = SockAddr.parse("[::1]:8080");
        assertEquals(Linux.AF_INET6(), a.family());
        assertEquals(8080, a.port());
        assertInstanceOf(Inet6Address.class, a.address());
        assertEquals(InetAddress.ofLiteral("::1"), a.address());
        assertEquals(sockaddr_in6.sizeof(), a.length());
        assertEquals(28, a.length());
        // The format is bracketed and parses back to the same address (Java spells ::1 in full).
        String text = a.toString();
        assertTrue(text.startsWith("[") && text.endsWith("]:8080"), text);
        assertEquals(a, SockAddr.parse(text));

        MemorySegment s = a.segment();
        assertEquals((short) Linux.AF_INET6(), sockaddr_in6.sin6_family(s));
        assertArrayEquals(new byte[] {0x1f, (byte) 0x90}, s.asSlice(sockaddr_in6.sin6_port$offset(), 2).toArray(ValueLayout.JAVA_BYTE));
        byte[] loop6 = new byte[16];
        loop6[15] = 1;
        assertArrayEquals(loop6, s.asSlice(sockaddr_in6.sin6_addr$offset(), 16).toArray(ValueLayout.JAVA_BYTE));
        assertEquals(0, sockaddr_in6.sin6_flowinfo(s));
        assertEquals(0, sockaddr_in6.sin6_scope_id(s));
    }

    @Test
    void emptyHostAndStarMeanAllIpv4Addresses() {
        SockAddr a = SockAddr.parse(":8001");
        assertEquals(InetAddress.ofLiteral("0.0.0.0"), a.address());
        assertEquals(8001, a.port());
        assertEquals(Linux.AF_INET(), a.family());
        assertEquals("0.0.0.0:8001", a.toString());

        SockAddr b = SockAddr.parse("*:1");
        assertEquals(InetAddress.ofLiteral("0.0.0.0"), b.address());
        assertEquals(1, b.port());
        assertEquals("0.0.0.0:1", b.toString());
    }

    @Test
    void hostNameIsResolved() {
        SockAddr a = SockAddr.parse("localhost:80");
        assertTrue(a.address().isLoopbackAddress(), a.toString());
        assertEquals(80, a.port());
        assertEquals(a.address() instanceof Inet4Address ? Linux.AF_INET() : Linux.AF_INET6(), a.family());
    }

    @Test
    void prefixesAndLimits() {
        SockAddr v6any = SockAddr.parse("ipv6@:::8080");
        assertEquals(Linux.AF_INET6(), v6any.family());
        assertEquals(InetAddress.ofLiteral("::"), v6any.address());
        assertEquals(8080, v6any.port());

        SockAddr v6star = SockAddr.parse("ipv6@*:9");
        assertEquals(InetAddress.ofLiteral("::"), v6star.address());

        SockAddr v4 = SockAddr.parse("ipv4@10.1.2.3:443");
        assertEquals("10.1.2.3:443", v4.toString());

        assertEquals(0, SockAddr.parse("1.2.3.4:0").port());
        assertEquals(65535, SockAddr.parse("1.2.3.4:65535").port());
        assertEquals(7, SockAddr.parse("  1.2.3.4:007 ").port(), "surrounding blanks and leading zeros");
        assertEquals("[fe80::1]:22", SockAddr.parse("[fe80::1]:22").toString());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            1.2.3.4              | no port
            1.2.3.4:             | no port
            1.2.3.4:99999        | '99999' is not a number from 0 to 65535
            1.2.3.4:65536        | '65536' is not a number from 0 to 65535
            1.2.3.4:99999999999  | is not a number from 0 to 65535
            1.2.3.4:abc          | 'abc' is not a number
            1.2.3.4:-1           | '-1' is not a number
            ::1:80               | brackets
            [::1]80              | expected [ipv6]:port
            [::1                 | expected [ipv6]:port
            [::1]:               | no port
            300.1.1.1:80         | '300.1.1.1' is not a valid IP address
            [1.2.3.4.5]:80       | is not a valid IP address
            """)
    void invalidTextIsRejectedWithAMessageNamingTheProblem(String text, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SockAddr.parse(text));
        assertTrue(e.getMessage().contains(expected), "message for '" + text + "': " + e.getMessage());
        assertTrue(e.getMessage().contains(text.trim()), "message should quote the input: " + e.getMessage());
    }

    @Test
    void ofChecksThePortRange() {
        InetAddress lo = InetAddress.ofLiteral("127.0.0.1");
        assertEquals(65535, SockAddr.of(lo, 65535).port());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SockAddr.of(lo, 65536));
        assertTrue(e.getMessage().contains("65536"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> SockAddr.of(lo, -1));
    }

    @Test
    void withPortEqualsAndHashCode() {
        SockAddr a = SockAddr.parse("127.0.0.1:0");
        SockAddr b = a.withPort(4242);
        assertEquals(4242, b.port());
        assertEquals(a.address(), b.address());
        assertEquals(0, a.port(), "immutable");
        assertEquals(SockAddr.parse("127.0.0.1:4242"), b);
        assertEquals(SockAddr.parse("127.0.0.1:4242").hashCode(), b.hashCode());
        assertNotEquals(SockAddr.parse("127.0.0.1:4243"), b);
        assertNotEquals(SockAddr.parse("127.0.0.2:4242"), b);
    }

    @Test
    void nativeFormRoundTrips() {
        for (String text : new String[] {"127.0.0.1:80", "10.0.0.255:65535", "[::1]:8080", "[2001:db8::42]:1"}) {
            SockAddr a = SockAddr.parse(text);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment copy = arena.allocate(sockaddr_storage.layout());
                MemorySegment.copy(a.segment(), 0, copy, 0, a.length());
                SockAddr back = SockAddr.fromNative(copy);
                assertEquals(a, back, text);
                assertEquals(a.family(), back.family(), text);
                assertEquals(a.length(), back.length(), text);
                assertEquals(a.toString(), back.toString(), text);
            }
        }
    }

    @Test
    void fromNativeRejectsUnknownFamilies() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(sockaddr_storage.layout());
            sockaddr_in.sin_family(s, (short) Linux.AF_UNSPEC());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SockAddr.fromNative(s));
            assertTrue(e.getMessage().contains("family"), e.getMessage());
        }
    }

    @Test
    void unixPathNativeForm() {
        SockAddr a = SockAddr.unix("/run/fwd.sock");
        assertTrue(a.isUnix());
        assertEquals(Linux.AF_UNIX(), a.family());
        assertEquals("/run/fwd.sock", a.path());
        assertEquals("unix@/run/fwd.sock", a.toString());
        assertEquals(null, a.address());
        // family, the 13 path bytes, the NUL: what SUN_LEN + 1 and the kernel's getsockname give
        assertEquals(sockaddr_un.sun_path$offset() + 13 + 1, a.length());
        assertEquals(2 + 13 + 1, a.length());
        MemorySegment s = a.segment();
        assertEquals((short) Linux.AF_UNIX(), sockaddr_un.sun_family(s));
        byte[] p = s.asSlice(sockaddr_un.sun_path$offset(), 14).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals("/run/fwd.sock\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII), p);

        assertEquals(a, SockAddr.unix("/run/fwd.sock"));
        assertEquals(a.hashCode(), SockAddr.unix("/run/fwd.sock").hashCode());
        assertNotEquals(a, SockAddr.unix("/run/fwd.sock2"));
        assertNotEquals(a, SockAddr.parse("127.0.0.1:80"));
        assertNotEquals(SockAddr.parse("127.0.0.1:80"), a);
        assertEquals(a, SockAddr.fromNative(s, a.length()));
        assertThrows(IllegalStateException.class, () -> a.withPort(1));
    }

    @Test
    void unixPathErrorsNameThePath() {
        String p = "/tmp/" + "s".repeat(103); // 108 bytes
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(p));
        assertEquals("Unix socket path '" + p + "' is 108 bytes long, more than the 107 a Unix socket address holds", e.getMessage());
        assertEquals(107, SockAddr.unix(p.substring(1)).path().length());
        e = assertThrows(IllegalArgumentException.class, () -> SockAddr.unix("/tmp/a\0b"));
        assertEquals("Unix socket path '/tmp/a\\0b' contains a NUL character", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SockAddr.unix(""));
        assertEquals("empty Unix socket path", e.getMessage());
    }

    @Test
    void unnamedAndAbstractUnixAddressesFromTheKernel() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(sockaddr_storage.layout());
            sockaddr_un.sun_family(s, (short) Linux.AF_UNIX());
            SockAddr unnamed = SockAddr.fromNative(s, 2);
            assertTrue(unnamed.isUnix());
            assertEquals("", unnamed.path());
            assertEquals(2, unnamed.length());

            byte[] name = {0, 'a', 'b', 'c'};
            MemorySegment.copy(name, 0, s, ValueLayout.JAVA_BYTE, sockaddr_un.sun_path$offset(), name.length);
            SockAddr abs = SockAddr.fromNative(s, 2 + 4);
            assertEquals("@abc", abs.path());
            assertEquals(6, abs.length(), "an abstract name has no terminating NUL");
            assertArrayEquals(name, abs.segment().asSlice(2, 4).toArray(ValueLayout.JAVA_BYTE));

            byte[] named = "/x/y\0garbage".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            MemorySegment.copy(named, 0, s, ValueLayout.JAVA_BYTE, sockaddr_un.sun_path$offset(), named.length);
            assertEquals("/x/y", SockAddr.fromNative(s, 2 + 5).path());
            assertEquals("/x/y", SockAddr.fromNative(s).path(), "without a length: up to the NUL");
        }
    }
}
