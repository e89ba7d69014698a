package org.forwarder.poll;

/**
 * Work the poller runs at the end of a pass on its own thread: woken streams, deferred retries.
 * A task sits at most once in the run queue (an intrusive list: no allocation to queue it), and
 * can also be armed as a timer. Another thread may wake it too ({@link Poller#wakeFromAnyThread}):
 * that goes through a separate lock-free link, so the poller's own run queue stays single-threaded.
 */
public abstract class Task extends TimerTask {
    Task nextInQueue;
    boolean inRunQueue;
    /** Link in the poller's stack of tasks woken from other threads; written before the CAS that publishes it. */
    Task remoteNext;
    /** 1 while the task waits in that stack, so a second wake from any thread is free. */
    volatile int remotePending;

    /** Runs on the poller thread. */
    protected abstract void run();
}
