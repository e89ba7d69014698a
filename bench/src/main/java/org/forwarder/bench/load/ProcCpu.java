package org.forwarder.bench.load;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * CPU time of another process (every thread of it), from /proc/PID/stat, so the client can
 * sample the forwarder exactly at the edges of its measurement window instead of around the
 * whole run (start-up, connects and warm-up excluded).
 */
final class ProcCpu {
    private ProcCpu() {}

    /** utime + stime of {@code pid} in clock ticks, or -1 if it cannot be read. */
    static long ticks(long pid) {
        if (pid <= 0) return -1;
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so cut at the last ')'
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" +");
            // f[0] is field 3 (state); utime is field 14, stime field 15
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }
}
