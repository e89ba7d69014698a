package org.forwarder.io;

/**
 * One party waiting in {@link BufferPool}'s queue. The pool hands it a buffer id directly (so a
 * release wakes exactly as many waiters as there are buffers for them), then calls
 * {@link #onBufferGranted()}.
 */
public abstract class BufferWaiter {
    BufferWaiter prevWaiter;
    BufferWaiter nextWaiter;
    boolean waiting;
    boolean urgentWait;
    int granted = -1;

    public final boolean isWaitingForBuffer() {
        return waiting;
    }

    /** Takes the buffer the pool granted, or -1 when none was. */
    public final int takeGranted() {
        int id = granted;
        granted = -1;
        return id;
    }

    /** A buffer was reserved for this waiter; called on the poller thread, from a release. */
    protected abstract void onBufferGranted();
}
