package org.forwarder.bench.load;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class PayloadTest {

    @Test
    void messagesDifferByCounterAndByConnection() {
        ByteBuffer a = ByteBuffer.allocateDirect(64), b = ByteBuffer.allocateDirect(64), c = ByteBuffer.allocateDirect(64);
        Payload.fill(a, 64, 3, 1);
        Payload.fill(b, 64, 3, 2);
        Payload.fill(c, 64, 4, 1);
        assertNotEquals(-1, Payload.mismatch(a, b, 64));
        assertNotEquals(-1, Payload.mismatch(a, c, 64));
        assertEquals(0, a.position());
        assertEquals(64, a.limit());
    }

    @Test
    void everyAlteredByteIsFound() {
        ByteBuffer sent = ByteBuffer.allocateDirect(64), got = ByteBuffer.allocateDirect(64);
        Payload.fill(sent, 64, 7, 42);
        Payload.fill(got, 64, 7, 42);
        assertEquals(-1, Payload.mismatch(sent, got, 64));
        for (int i = 0; i < 64; i++) {
            got.put(i, (byte) (got.get(i) ^ 0x01));
            assertEquals(i, Payload.mismatch(sent, got, 64));
            got.put(i, (byte) (got.get(i) ^ 0x01));
        }
    }

    @Test
    void errorsAreClassifiedByKind() {
        assertEquals(ErrorCounts.Kind.REFUSED, ErrorCounts.classify(new ConnectException("Connection refused")));
        assertEquals(ErrorCounts.Kind.RESET, ErrorCounts.classify(new SocketException("Connection reset")));
        assertEquals(ErrorCounts.Kind.RESET, ErrorCounts.classify(new IOException("Broken pipe")));
        assertEquals(ErrorCounts.Kind.ADDR, ErrorCounts.classify(new ConnectException("Cannot assign requested address")));
        assertEquals(ErrorCounts.Kind.FDS, ErrorCounts.classify(new IOException("Too many open files")));
        assertEquals(ErrorCounts.Kind.OTHER, ErrorCounts.classify(new IOException((String) null)));
        ErrorCounts e = new ErrorCounts();
        e.add(new IOException("something new"));
        e.add(ErrorCounts.Kind.SHORT);
        assertEquals(2, e.total());
        assertEquals("java.io.IOException: something new", e.firstOther());
    }
}
