package org.forwarder.stream;

/**
 * What a {@link Channel} and its {@link Conn}s need from the session that owns them: the loop's
 * clock, the session's state, and the events the mechanism reports upward (I/O on a socket, a
 * direction ended, a peer failed, splice refused, a wait that may need an earlier timer). The
 * session policy (servers, queues, retries, timeouts) stays above, in the proxy package.
 */
public interface ChannelOwner {
    /** The loop's clock in milliseconds. */
    long now();

    boolean isClosed();

    /** The server connection is up: bytes may be forwarded. */
    boolean isConnected();

    /** epoll reported I/O (or an error) on {@code c}. */
    void onIo(Conn c);

    /** A direction read or sent its FIN. */
    void halfClosed();

    /**
     * Whether the direction other than {@code c} has passed its FIN on: then {@code c}'s FIN
     * completes the stream, whose close() sends it (no shutdown() call needed).
     */
    boolean otherFinSent(Channel c);

    /** {@code c} reset or failed: nothing more can be sent to it. */
    void peerFailed(Conn c);

    /** The bytes of a failed peer are all handed to {@code target}: reset it once they are acknowledged. */
    void passResetOn(Conn target);

    /** splice failed with EBADF, EINVAL or ENOSYS: the whole stream goes on copying. */
    void spliceFailed();

    /** A wait started whose deadline may precede the armed timer. */
    void rearmTimer();

    /**
     * {@code n} bytes were read from the source of direction {@code dir} (for the owner's
     * counters), into a pipe ({@code spliced}) or a buffer.
     */
    void bytesRead(int dir, long n, boolean spliced);
}
