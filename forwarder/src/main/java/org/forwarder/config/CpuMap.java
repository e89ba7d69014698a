package org.forwarder.config;

import java.util.Arrays;
import java.util.BitSet;

/**
 * Which CPUs each event loop is pinned to ({@code cpu-map} in {@code global}): for loop
 * {@code i} (0-based; HAProxy's thread {@code i + 1}) a list of CPU numbers in increasing order,
 * or an empty list when the loop is not pinned and runs wherever the process may.
 *
 * <p>Immutable. Each pinned loop also keeps where its mapping was written ({@code file:line}), so
 * that a CPU the kernel refuses at start-up can be reported against the line that asked for it;
 * that origin is a diagnostic and takes no part in {@link #equals}.
 */
public final class CpuMap {

    /** Thread numbers a cpu-map line may name: 1 to this (HAProxy's MAX_THREADS, our MAX_NBTHREAD). */
    public static final int MAX_THREADS = GlobalConfig.MAX_NBTHREAD;
    /** CPU numbers a cpu-map line may name: 0 to this - 1 (glibc's CPU_SETSIZE, as HAProxy on Linux). */
    public static final int MAX_CPUS = 1024;

    private static final int[] NONE_PINNED = new int[0];

    /** No loop pinned. */
    public static final CpuMap NONE = new CpuMap(new int[MAX_THREADS][], new String[MAX_THREADS]);

    private final int[][] cpus;      // per loop; null = not pinned
    private final String[] origins;  // per loop; null = not pinned

    private CpuMap(int[][] cpus, String[] origins) {
        this.cpus = cpus;
        this.origins = origins;
    }

    /** The CPUs loop {@code loop} (0-based) is pinned to, increasing; empty if it is not pinned. */
    public int[] cpusOf(int loop) {
        int[] c = loop >= 0 && loop < MAX_THREADS ? cpus[loop] : null;
        return c == null ? NONE_PINNED : c.clone();
    }

    /** Where loop {@code loop}'s mapping was written ("file:line"), or null if it is not pinned. */
    public String originOf(int loop) {
        return loop >= 0 && loop < MAX_THREADS ? origins[loop] : null;
    }

    /** True if no loop is pinned. */
    public boolean isEmpty() {
        for (int[] c : cpus) if (c != null) return false;
        return true;
    }

    /** A CPU list in the kernel's notation (as in /proc/.../status Cpus_allowed_list): "0-3,6". */
    public static String format(int[] sortedCpus) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < sortedCpus.length; ) {
            int j = i;
            while (j + 1 < sortedCpus.length && sortedCpus[j + 1] == sortedCpus[j] + 1) j++;
            if (!sb.isEmpty()) sb.append(',');
            sb.append(sortedCpus[i]);
            if (j > i) sb.append('-').append(sortedCpus[j]);
            i = j + 1;
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CpuMap m && Arrays.deepEquals(cpus, m.cpus);
    }

    @Override
    public int hashCode() {
        return Arrays.deepHashCode(cpus);
    }

    /** E.g. "CpuMap[1:0 2:1]" with HAProxy's 1-based thread numbers, or "CpuMap[none]". */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("CpuMap[");
        for (int i = 0; i < MAX_THREADS; i++) {
            if (cpus[i] == null) continue;
            if (sb.length() > 7) sb.append(' ');
            sb.append(i + 1).append(':').append(format(cpus[i]));
        }
        return sb.append(sb.length() == 7 ? "none]" : "]").toString();
    }

    /** Collects mappings line by line; a later {@link #pin} of a loop replaces the earlier one, as in HAProxy. */
    public static final class Builder {
        private final int[][] cpus = new int[MAX_THREADS][];
        private final String[] origins = new String[MAX_THREADS];

        /** Pins loop {@code loop} (0-based) to {@code cpus} (not empty, each 0 to MAX_CPUS - 1). */
        public Builder pin(int loop, BitSet cpuSet, String origin) {
            if (loop < 0 || loop >= MAX_THREADS) throw new IllegalArgumentException("loop " + loop + " out of range");
            if (cpuSet.isEmpty() || cpuSet.length() > MAX_CPUS) {
                throw new IllegalArgumentException("a CPU set must name CPUs 0 to " + (MAX_CPUS - 1));
            }
            cpus[loop] = cpuSet.stream().toArray();
            origins[loop] = origin;
            return this;
        }

        /** Pins loop {@code loop} (0-based) to the given CPUs. */
        public Builder pin(int loop, int... cpuList) {
            BitSet set = new BitSet();
            for (int c : cpuList) {
                if (c < 0 || c >= MAX_CPUS) throw new IllegalArgumentException("CPU " + c + " out of range");
                set.set(c);
            }
            return pin(loop, set, null);
        }

        public CpuMap build() {
            return new CpuMap(cpus.clone(), origins.clone());
        }
    }
}
