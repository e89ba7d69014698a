package org.forwarder.proxy;

import org.forwarder.config.ServerCheck;

/**
 * A server's operational state next to its administrative one, as HAProxy keeps it: up or down,
 * and the health counter that moves it, 0..rise+fall-1. Up from {@code rise} on; a passed check
 * below that adds one and, reaching {@code rise}, jumps to the top (the server is UP and needs
 * {@code fall} failures to go down); a failed check above {@code rise} takes one off, at
 * {@code rise} or below it drops to 0 (DOWN, needing {@code rise} passes). A server with checks
 * starts at {@code rise}: up, but down at its first failure, as HAProxy starts it. Without
 * {@code check} it is always up.
 *
 * <p>Threads: the state and the counter change under the owning backend's lock (a check's
 * result on its loop, a passive error on any loop, the runtime API on the control loop); the
 * check's last result and duration are written by the check's loop. All are volatile so the
 * stats and the runtime API read them from anywhere.
 */
public final class OpState {
    final int rise;
    final int fall;
    final boolean checked;
    volatile boolean up = true;
    volatile int health;
    /** Health checks enabled (HAProxy's "enable/disable health"; also off while in MAINT). */
    volatile boolean enabled;
    /** Last check result: its status name (L4OK, L4CON, ...), null before the first one. */
    public volatile String status;
    /** The check in flight now (show stat prefixes its last status with "* "). */
    public volatile boolean inProgress;
    /** Duration of the last check, ms; -1 none. */
    public volatile long durationMs = -1;
    /** Layer 5-7 code of the last check (a MySQL error number; 0 when the protocol has none). */
    public volatile int code;
    /** Failed checks while health > 0 (chkfail), UP to DOWN transitions (chkdown). */
    volatile long failures;
    volatile long downs;
    /** System.nanoTime() of the last fall to DOWN while down, else 0; total time down before it. */
    volatile long downSince;
    volatile long downtimeNs;
    /** Passive checks: errors in a row (under the lock). */
    int consecutiveErrors;
    /** Set by an on-error fastinter: the next check comes after fastinter. */
    volatile boolean hurry;

    OpState(ServerCheck c) {
        this.rise = c.rise();
        this.fall = c.fall();
        this.checked = c.check();
        this.enabled = c.check();
        this.health = c.check() ? c.rise() : 0;
    }

    public boolean checked() { return checked; }
    public boolean up() { return up; }
    public int health() { return health; }
    public int rise() { return rise; }
    public int fall() { return fall; }
    public boolean enabled() { return enabled; }
    /** {@code enable health} / {@code disable health} (a server without check stays unchecked). */
    public void setEnabled(boolean on) { enabled = on && checked; }
    public long failures() { return failures; }

    /** Takes the on-error fastinter request: true once after it was made. */
    public boolean takeHurry() {
        if (!hurry) return false;
        hurry = false;
        return true;
    }
    public long downs() { return downs; }

    /** Total seconds spent DOWN so far, the current stretch included. */
    public long downtimeSeconds() {
        long since = downSince;
        long t = downtimeNs + (since != 0 ? System.nanoTime() - since : 0);
        return t / 1_000_000_000L;
    }

    /** Stable (UP at the top, or DOWN at 0) rather than on the way to the other state. */
    public boolean stable() {
        return up ? health >= rise + fall - 1 : health == 0;
    }

    /** HAProxy's status word for a checked server in service: UP, UP 1/3, DOWN, DOWN 1/2. */
    public String statusText() {
        if (up) {
            int top = rise + fall - 1;
            return health >= top ? "UP" : "UP " + (health - rise + 1) + "/" + fall;
        }
        return health == 0 ? "DOWN" : "DOWN " + health + "/" + rise;
    }

    /**
     * A state a previous process saved (server-state-file), before any check ran: running or
     * stopped, and the health counter, kept within what this configuration's rise and fall allow
     * (a running server is at least at rise, a stopped one below it).
     */
    void restore(boolean running, int savedHealth) {
        int top = rise + fall - 1;
        if (running) {
            health = Math.max(rise, Math.min(top, savedHealth));
            up = true;
        } else {
            health = Math.min(rise - 1, Math.max(0, savedHealth));
            if (up) {
                up = false;
                downSince = System.nanoTime();
            }
        }
    }

    // ---- transitions, under the backend's lock ---------------------------------------------

    /** 1 when this pass made it UP, else 0. */
    int passed() {
        int top = rise + fall - 1;
        if (health < top) health++;
        if (health >= rise) {
            health = top;
            if (!up) {
                up = true;
                long since = downSince;
                if (since != 0) {
                    downtimeNs += System.nanoTime() - since;
                    downSince = 0;
                }
                return 1;
            }
        }
        return 0;
    }

    /** -1 when this failure made it DOWN, else 0. Counted in chkfail only while health > 0, as HAProxy. */
    int failed() {
        if (health > 0) failures++;
        if (health > rise) {
            health--;
            return 0;
        }
        health = 0;
        if (up) {
            up = false;
            downs++;
            downSince = System.nanoTime();
            return -1;
        }
        return 0;
    }
}
