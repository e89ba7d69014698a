package org.forwarder.poll;

/**
 * Work the poller runs at the end of a pass on its own thread: woken streams, deferred retries.
 * A task sits at most once in the run queue (an intrusive list: no allocation to queue it), and
 * can also be armed as a timer.
 */
public abstract class Task extends TimerTask {
    Task nextInQueue;
    boolean inRunQueue;

    /** Runs on the poller thread. */
    protected abstract void run();
}
