package org.forwarder.bench.load;

import java.nio.ByteBuffer;

/**
 * The bytes of one message and their check. Every message differs from the one before on the same
 * connection and from those of the other connections (the content is drawn from a generator seeded
 * by connection id and message counter), so an echo that is stale, duplicated, crossed between
 * connections or altered is caught, not only a short one. Works on absolute positions of the
 * caller's buffers: nothing is allocated.
 */
final class Payload {
    private Payload() {}

    /** Writes message {@code seq} of connection {@code conn} into {@code buf}[0, size) and makes it ready to send. */
    static void fill(ByteBuffer buf, int size, long conn, long seq) {
        long state = seq * 0x9E3779B97F4A7C15L + conn * 0xC2B2AE3D27D4EB4FL + 1;
        for (int i = 0; i < size; i++) {
            if ((i & 7) == 0) state = next(state);
            buf.put(i, (byte) (state >>> ((i & 7) << 3)));
        }
        buf.limit(size).position(0);
    }

    /** The first index in [0, size) where {@code got} differs from {@code sent}, or -1 if none does. */
    static int mismatch(ByteBuffer sent, ByteBuffer got, int size) {
        for (int i = 0; i < size; i++) {
            if (sent.get(i) != got.get(i)) return i;
        }
        return -1;
    }

    /** One step of a 64-bit mixing generator (SplitMix-style finaliser over a Weyl sequence). */
    private static long next(long s) {
        long z = s + 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
