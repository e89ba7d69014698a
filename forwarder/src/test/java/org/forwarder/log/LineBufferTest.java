package org.forwarder.log;

import org.forwarder.sys.SockConst;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** %ci of an IPv6 socket whose peer is an IPv4-mapped address (bind :::port v4v6). */
class LineBufferTest {
    private static String addr(long hi, long lo) {
        LineBuffer b = new LineBuffer(256);
        b.putAddress(SockConst.AF_INET6, hi, lo);
        return new String(b.bytes, 0, b.length, StandardCharsets.US_ASCII);
    }

    @Test
    void ipv4MappedClientIsLoggedAsHaproxyDoes() {
        // HAProxy 2.6 formats AF_INET6 with inet_ntop: "::ffff:127.0.0.1"
        assertEquals("::ffff:127.0.0.1", addr(0L, 0x0000ffff7f000001L));
    }

    @Test
    void plainIpv6() {
        assertEquals("::1", addr(0L, 1L));
        assertEquals("2001:db8::1", addr(0x20010db800000000L, 1L));
    }
}
