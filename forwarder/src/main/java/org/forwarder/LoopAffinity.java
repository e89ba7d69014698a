package org.forwarder;

import org.forwarder.config.CpuMap;
import org.forwarder.proxy.Worker;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;

import java.util.Arrays;
import java.util.function.Consumer;

/**
 * Pins an event loop's thread to the CPUs {@code cpu-map} gives it. It runs on the loop's own
 * thread, first thing: sched_setaffinity with pid 0 acts on the calling thread, and no other
 * thread can name a Java thread's kernel task.
 *
 * <p>HAProxy 2.6 ignores the result of pthread_setaffinity_np: a thread the kernel refuses to pin
 * runs unpinned, and a CPU that does not exist is dropped without a word. The loop keeps running
 * here too (the forwarder works, only not where it was asked to), but never silently: a refused
 * call, or a pin the kernel narrowed (CPUs offline, absent, or outside the process's cpuset), is
 * logged with the loop, the CPUs and the cpu-map line that asked for them.
 */
final class LoopAffinity {

    private LoopAffinity() {}

    /** Pins the calling thread, which runs loop {@code w}, if the cpu-map names it. */
    static void apply(Worker w, Consumer<String> log) {
        apply(w.proxies().global().cpuMap(), w.index(), w.sys(), log);
    }

    static void apply(CpuMap map, int loop, Syscalls sys, Consumer<String> log) {
        int[] want = map.cpusOf(loop);
        if (want.length == 0) return;
        String who = "warning: cpu-map" + (map.originOf(loop) == null ? "" : " at " + map.originOf(loop))
                + ": event loop " + loop + " (thread " + (loop + 1) + ")";
        int r = sys.setThreadAffinity(want);
        if (r < 0) {
            String why = r == -Errno.EINVAL ? ": none of them is online and allowed to this process" : "";
            log.accept(who + " could not be pinned to CPU " + CpuMap.format(want) + " (sched_setaffinity: "
                    + Errno.describe(r) + why + "); it runs on any CPU the process may use");
            return;
        }
        int[] got;
        try {
            got = sys.threadAffinity();
        } catch (IllegalStateException e) {
            log.accept(who + " was pinned to CPU " + CpuMap.format(want) + " but the result cannot be read back: "
                    + e.getMessage());
            return;
        }
        if (!Arrays.equals(want, got)) {
            int[] dropped = Arrays.stream(want).filter(c -> Arrays.binarySearch(got, c) < 0).toArray();
            log.accept(who + " asked for CPU " + CpuMap.format(want) + " but runs on CPU " + CpuMap.format(got)
                    + " only: CPU " + CpuMap.format(dropped) + " does not exist, is offline or is not allowed to"
                    + " this process");
        }
    }
}
