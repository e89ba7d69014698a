package org.forwarder.poll;

/** Something that wants to run at a time: it lives in {@link Timers}' heap without allocation. */
public abstract class TimerTask {
    long when;
    int heapIndex = -1;

    /** Called on the poller thread once {@code now >= when}; it may re-arm itself. */
    protected abstract void onTimer(long nowMs);

    public final boolean isScheduled() {
        return heapIndex >= 0;
    }

    public final long scheduledAt() {
        return when;
    }
}
