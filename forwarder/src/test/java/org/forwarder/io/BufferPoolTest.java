package org.forwarder.io;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The reserve and the wait queues: the seed 003 rules. */
class BufferPoolTest {
    static final class Waiter extends BufferWaiter {
        final List<Waiter> granted;

        Waiter(List<Waiter> granted) {
            this.granted = granted;
        }

        @Override
        protected void onBufferGranted() {
            granted.add(this);
        }
    }

    @Test
    void requestsLeaveTheReserveToResponses() {
        BufferPool pool = new BufferPool(1024, 6, 2);
        try {
            List<Integer> held = new ArrayList<>();
            for (int i = 0; i < 4; i++) held.add(pool.acquire(false));
            assertTrue(held.stream().allMatch(id -> id >= 0));
            assertEquals(-1, pool.acquire(false), "the last two buffers are the reserve");
            int r1 = pool.acquire(true);
            int r2 = pool.acquire(true);
            assertTrue(r1 >= 0 && r2 >= 0, "responses may use the reserve");
            assertEquals(-1, pool.acquire(true), "the limit holds for everyone");
            assertEquals(6, pool.inUse());
            assertEquals(1024, pool.segment(r1).byteSize());
        } finally {
            pool.close();
        }
    }

    @Test
    void releaseGrantsUrgentWaitersFirstAndOnlyAsManyAsFree() {
        BufferPool pool = new BufferPool(512, 4, 2);
        try {
            List<Waiter> granted = new ArrayList<>();
            int a = pool.acquire(false);
            int b = pool.acquire(false);
            int c = pool.acquire(true);
            int d = pool.acquire(true);
            Waiter normal1 = new Waiter(granted);
            Waiter normal2 = new Waiter(granted);
            Waiter urgent = new Waiter(granted);
            pool.await(normal1, false);
            pool.await(normal2, false);
            pool.await(urgent, true);
            pool.release(a);
            assertEquals(List.of(urgent), granted, "the urgent waiter goes first");
            assertTrue(urgent.takeGranted() >= 0);
            pool.release(b);
            assertEquals(1, granted.size(), "a request may not take one of the last two (the reserve)");
            pool.release(c);
            assertEquals(1, granted.size(), "two in use of four: a request would eat the reserve");
            pool.release(d);
            assertEquals(List.of(urgent, normal1), granted, "one buffer frees one waiter, in order");
            assertTrue(normal2.isWaitingForBuffer());
            pool.cancel(normal2);
            assertTrue(!normal2.isWaitingForBuffer());
        } finally {
            pool.close();
        }
    }

    @Test
    void unlimitedPoolNeverSaysNo() {
        BufferPool pool = new BufferPool(256, 0, 2);
        try {
            for (int i = 0; i < 1000; i++) assertTrue(pool.acquire(false) >= 0);
            assertEquals(1000, pool.inUse());
        } finally {
            pool.close();
        }
    }

    /**
     * A slab is bounded in bytes, not in buffers: with tune.bufsize 16m the first connection
     * used to make (and zero, on the loop's thread) a 1 GiB slab of 64 buffers.
     */
    @Test
    void largeBuffersComeOneSlabAtATimeNotSixtyFour() {
        int big = 16 << 20;
        BufferPool pool = new BufferPool(big, 0, 0);
        try {
            int id = pool.acquire(false);
            assertTrue(id >= 0);
            assertEquals(1, pool.allocated(), "one 16 MiB buffer made, not a slab of 64");
            assertEquals(big, pool.segment(id).byteSize());
            int id2 = pool.acquire(false);
            assertEquals(2, pool.allocated());
            pool.release(id2);
            pool.release(id);
        } finally {
            pool.close();
        }
        BufferPool small = new BufferPool(16 << 10, 0, 0);
        try {
            int id = small.acquire(false);
            assertEquals(64, small.allocated(), "default-size buffers still come 64 to a 1 MiB slab");
            small.release(id);
        } finally {
            small.close();
        }
    }
}
