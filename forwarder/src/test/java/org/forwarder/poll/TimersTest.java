package org.forwarder.poll;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class TimersTest {
    static final class Rec extends TimerTask {
        final List<Rec> fired;
        final int id;

        Rec(List<Rec> fired, int id) {
            this.fired = fired;
            this.id = id;
        }

        @Override
        protected void onTimer(long nowMs) {
            fired.add(this);
        }
    }

    @Test
    void firesInDeadlineOrderWithReschedulesAndCancels() {
        Timers timers = new Timers();
        List<Rec> fired = new ArrayList<>();
        Random rnd = new Random(42);
        Rec[] all = new Rec[2000];
        for (int i = 0; i < all.length; i++) {
            all[i] = new Rec(fired, i);
            timers.schedule(all[i], rnd.nextInt(100_000));
        }
        for (int i = 0; i < all.length; i += 3) timers.schedule(all[i], rnd.nextInt(100_000)); // move
        for (int i = 1; i < all.length; i += 7) timers.cancel(all[i]);
        int expected = timers.size();
        timers.runExpired(Long.MAX_VALUE - 1);
        assertEquals(expected, fired.size());
        for (int i = 1; i < fired.size(); i++) {
            assertFalse(fired.get(i).scheduledAt() < fired.get(i - 1).scheduledAt(), "out of order at " + i);
        }
        for (int i = 1; i < all.length; i += 7) assertFalse(fired.contains(all[i]), "cancelled timer fired");
        assertEquals(0, timers.size());
    }

    @Test
    void timeoutIsTheNearestDeadlineClamped() {
        Timers timers = new Timers();
        assertEquals(1000, timers.timeoutMs(0, 1000));
        Rec r = new Rec(new ArrayList<>(), 0);
        timers.schedule(r, 250);
        assertEquals(150, timers.timeoutMs(100, 1000));
        assertEquals(0, timers.timeoutMs(300, 1000));
        timers.scheduleNoLaterThan(r, 900);
        assertEquals(250, r.scheduledAt(), "a later deadline does not move an earlier one");
        timers.scheduleNoLaterThan(r, 50);
        assertEquals(50, r.scheduledAt());
    }
}
