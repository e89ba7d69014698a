package org.forwarder.log;

import java.nio.charset.StandardCharsets;

/**
 * Bytes of one log line being written by the log writer: ASCII numbers, names and dates
 * appended without intermediate Strings where it is easy, cut at a fixed capacity (the longest
 * {@code len} a target may have).
 */
final class LineBuffer {
    final byte[] bytes;
    int length;

    LineBuffer(int capacity) {
        bytes = new byte[capacity];
    }

    void clear() {
        length = 0;
    }

    void put(byte b) {
        if (length < bytes.length) bytes[length++] = b;
    }

    void put(char c) {
        put((byte) c);
    }

    void put(byte[] b) {
        int n = Math.min(b.length, bytes.length - length);
        System.arraycopy(b, 0, bytes, length, n);
        length += n;
    }

    void put(String s) {
        put(s.getBytes(StandardCharsets.UTF_8));
    }

    void put(LineBuffer other, int from, int len) {
        int n = Math.min(len, bytes.length - length);
        System.arraycopy(other.bytes, from, bytes, length, n);
        length += n;
    }

    void put(long v) {
        if (v < 0) {
            if (v == Long.MIN_VALUE) {
                put(Long.toString(v));
                return;
            }
            put('-');
            v = -v;
        }
        int start = length;
        do {
            put((byte) ('0' + v % 10));
            v /= 10;
        } while (v != 0);
        // digits came out last first
        for (int i = start, j = length - 1; i < j; i++, j--) {
            byte t = bytes[i];
            bytes[i] = bytes[j];
            bytes[j] = t;
        }
    }

    /** {@code v} on {@code width} digits, zero-padded. */
    void put(long v, int width) {
        long limit = 1;
        for (int i = 1; i < width; i++) limit *= 10;
        for (long p = limit; p > 1 && v < p; p /= 10) put('0');
        put(v);
    }

    /** An IPv4 or IPv6 address held as two longs (see {@link LogRecord}); '-' for any other family. */
    void putAddress(int family, long hi, long lo) {
        if (family == org.forwarder.sys.SockConst.AF_INET) {
            put((lo >>> 24) & 0xff);
            put('.');
            put((lo >>> 16) & 0xff);
            put('.');
            put((lo >>> 8) & 0xff);
            put('.');
            put(lo & 0xff);
            return;
        }
        if (family != org.forwarder.sys.SockConst.AF_INET6) {
            put('-');
            return;
        }
        byte[] a = new byte[16];
        for (int i = 0; i < 8; i++) {
            a[i] = (byte) (hi >>> (56 - 8 * i));
            a[8 + i] = (byte) (lo >>> (56 - 8 * i));
        }
        put(org.forwarder.sys.SockAddr.ipv6Text(a)); // inet_ntop's form, ::ffff:a.b.c.d included, as HAProxy
    }
}
