package org.forwarder.poll;

import java.util.Arrays;

/**
 * A binary min-heap of {@link TimerTask}s by deadline: O(log n) schedule, reschedule and cancel,
 * no allocation once the array has grown to the peak number of timers.
 *
 * <p>Streams use it lazily: activity only moves a deadline later, which they record in a plain
 * field; the heap entry is touched when it fires (and is re-armed to the real deadline) or when a
 * deadline moves earlier. So the per-I/O cost of timeouts is one store.
 */
public final class Timers {
    private TimerTask[] heap = new TimerTask[64];
    private int size;

    public int size() {
        return size;
    }

    /** Arms (or moves) {@code t} to fire at {@code when}. */
    public void schedule(TimerTask t, long when) {
        if (t.heapIndex >= 0) {
            long old = t.when;
            t.when = when;
            if (when < old) siftUp(t.heapIndex);
            else if (when > old) siftDown(t.heapIndex);
            return;
        }
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, size * 2);
        }
        t.when = when;
        t.heapIndex = size;
        heap[size++] = t;
        siftUp(t.heapIndex);
    }

    /** Arms {@code t} at {@code when} unless it is already armed at or before that time. */
    public void scheduleNoLaterThan(TimerTask t, long when) {
        if (t.heapIndex < 0 || when < t.when) {
            schedule(t, when);
        }
    }

    public void cancel(TimerTask t) {
        int i = t.heapIndex;
        if (i < 0) return;
        t.heapIndex = -1;
        TimerTask last = heap[--size];
        heap[size] = null;
        if (i < size) {
            heap[i] = last;
            last.heapIndex = i;
            siftUp(i);
            siftDown(last.heapIndex);
        }
    }

    /** Milliseconds until the nearest deadline (clamped to [0, max]), or max when none. */
    public int timeoutMs(long nowMs, int max) {
        if (size == 0) return max;
        long d = heap[0].when - nowMs;
        return d <= 0 ? 0 : (int) Math.min(d, max);
    }

    /** Runs every task whose deadline has passed. A task re-armed for now runs next call. */
    public void runExpired(long nowMs) {
        int budget = size; // tasks re-armed in the past wait for the next pass
        while (size > 0 && heap[0].when <= nowMs && budget-- > 0) {
            TimerTask t = heap[0];
            cancel(t);
            t.onTimer(nowMs);
        }
    }

    private void siftUp(int i) {
        TimerTask t = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            TimerTask p = heap[parent];
            if (p.when <= t.when) break;
            heap[i] = p;
            p.heapIndex = i;
            i = parent;
        }
        heap[i] = t;
        t.heapIndex = i;
    }

    private void siftDown(int i) {
        TimerTask t = heap[i];
        int half = size >>> 1;
        while (i < half) {
            int child = 2 * i + 1;
            TimerTask c = heap[child];
            int right = child + 1;
            if (right < size && heap[right].when < c.when) {
                child = right;
                c = heap[child];
            }
            if (t.when <= c.when) break;
            heap[i] = c;
            c.heapIndex = i;
            i = child;
        }
        heap[i] = t;
        t.heapIndex = i;
    }
}
