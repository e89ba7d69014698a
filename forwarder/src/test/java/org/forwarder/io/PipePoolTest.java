package org.forwarder.io;

import org.forwarder.stats.CounterBlock;
import org.forwarder.stats.ProcessCounter;
import org.forwarder.stats.StatsRegistry;
import org.forwarder.sys.FdConst;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pool in-process. This JVM may be exempt from the kernel's per-user pipe limit (root keeps
 * CAP_SYS_ADMIN), so EPERM is tested without the capability in {@code PipeBudgetProcessTest}.
 */
class PipePoolTest {
    private static final int MIB = 1 << 20;
    private static final int KERNEL = PipePool.KERNEL_PIPE_SIZE;

    private final CounterBlock<ProcessCounter> stats = new StatsRegistry(List.of(), Map.of()).newLoop().process();
    private final List<String> log = new ArrayList<>();

    private PipePool pool(int maxPipes, int pipeSize, long memory) {
        return new PipePool(Syscalls.get(), maxPipes, pipeSize, memory, 1024, stats, log::add);
    }

    private static int openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    /** What the kernel says the pipe holds (not what the pool remembers). */
    private static int kernelSize(long pipe) {
        return Syscalls.get().fcntl(PipePool.writeFd(pipe), FdConst.F_GETPIPE_SZ, 0);
    }

    @Test
    void boundedReusedAndClosedWhenReturnedFull() throws IOException {
        Syscalls sys = Syscalls.get();
        int before = openFds();
        PipePool pool = pool(2, 0, -1);
        long a = pool.acquire();
        long b = pool.acquire();
        assertTrue(a >= 0 && b >= 0);
        assertEquals(-1, pool.acquire(), "maxpipes is a hard bound");
        assertEquals(1, pool.exhausted());
        assertEquals(before + 4, openFds(), "two pipes, two fds each");

        pool.release(a, true);
        assertEquals(1, pool.free());
        assertEquals(a, pool.acquire(), "an empty pipe is reused");

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bytes = arena.allocate(100);
            assertEquals(100, sys.write(PipePool.writeFd(b), bytes, 0, 100));
        }
        pool.release(b, false);
        assertEquals(0, pool.free(), "a pipe returned with data in it is closed, not pooled");
        assertEquals(before + 2, openFds());
        pool.release(a, true);
        pool.close();
        assertEquals(before, openFds(), "close() releases the pooled pipes");
    }

    @Test
    void defaultPipeIsLargerThanTheKernelDefault() {
        PipePool pool = pool(1, 0, -1);
        long p = pool.acquire();
        try {
            assertNotEquals(-1, p);
            // 1 MiB unless /proc/sys/fs/pipe-max-size says less; never below the kernel's 64 KiB
            assertTrue(pool.capacity(p) > KERNEL, "capacity " + pool.capacity(p));
            assertEquals(kernelSize(p), pool.capacity(p));
        } finally {
            pool.release(p, true);
            pool.close();
        }
    }

    @Test
    void tunePipesizeIsApplied() {
        PipePool pool = pool(2, 131072, -1);
        long p = pool.acquire();
        try {
            assertEquals(131072, pool.capacity(p));
            assertEquals(131072, kernelSize(p));
        } finally {
            pool.release(p, true);
            pool.close();
        }
        // below the kernel's default a pipe is not "large": no budget needed, even a zero one
        pool = pool(1, 16384, 0);
        p = pool.acquire();
        try {
            assertEquals(16384, pool.capacity(p));
            assertEquals(16384, kernelSize(p));
        } finally {
            pool.release(p, true);
            pool.close();
        }
    }

    /** A pipe past the budget keeps the kernel's size, and the pipes made before keep theirs. */
    @Test
    void eachPipeKeepsItsOwnCapacity() {
        PipePool pool = pool(4, MIB, MIB);
        long big = pool.acquire();
        long small = pool.acquire();
        try {
            assertEquals(MIB, pool.capacity(big));
            assertEquals(KERNEL, pool.capacity(small), "the budget of 1 MiB is spent");
            assertEquals(KERNEL, kernelSize(small));
            assertEquals(MIB, pool.capacity(big), "a small pipe does not shrink what the large one may take");
            assertEquals(1, pool.largeInUse());
            assertEquals(1, stats.get(ProcessCounter.PIPES_OVER_BUDGET));
        } finally {
            pool.release(big, true);
            pool.release(small, true);
            pool.close();
        }
    }

    @Test
    void largePipesStayWithinTheBudget() {
        PipePool pool = pool(10, MIB, 3L * MIB);
        long[] p = new long[5];
        for (int i = 0; i < p.length; i++) p[i] = pool.acquire();
        int large = 0;
        for (long q : p) if (pool.capacity(q) == MIB) large++;
        assertEquals(3, large, "3 MiB of budget: three pipes of 1 MiB");
        assertEquals(3L * MIB, pool.largeBytes());
        assertEquals(3, pool.largeInUse());
        assertEquals(2, stats.get(ProcessCounter.PIPES_OVER_BUDGET));

        // an idle pipe still counts (the kernel charges it), a closed one no longer does
        pool.release(p[0], true);
        assertEquals(3L * MIB, pool.largeBytes());
        assertEquals(2, pool.largeInUse());
        pool.release(p[1], false); // returned with data: closed
        assertEquals(2L * MIB, pool.largeBytes());

        // budget given back: a small idle pipe is enlarged when taken again
        pool.release(p[3], true);
        pool.release(p[4], true);
        long again = pool.acquire(); // the largest idle first
        assertEquals(MIB, pool.capacity(again));
        long grown = pool.acquire();
        assertEquals(MIB, pool.capacity(grown), "one small idle pipe grows into the freed MiB");
        assertEquals(MIB, kernelSize(grown));
        assertEquals(3L * MIB, pool.largeBytes());
        for (long q : new long[] {again, grown, p[2]}) pool.release(q, true);
        pool.close();
        assertEquals(0, pool.largeBytes());
    }

    /** 200 slow streams ending must not leave 200 idle pipes behind: the surplus is closed, the large kept. */
    @Test
    void idlePipesAreFewAndTheSurplusIsClosed() throws IOException {
        int before = openFds();
        PipePool pool = pool(300, MIB, 4L * MIB);
        long[] p = new long[200];
        for (int i = 0; i < p.length; i++) p[i] = pool.acquire();
        assertEquals(before + 400, openFds());
        for (long q : p) pool.release(q, true);
        assertEquals(PipePool.MAX_IDLE, pool.free());
        assertEquals(200 - PipePool.MAX_IDLE, stats.get(ProcessCounter.PIPES_SURPLUS_CLOSED));
        assertEquals(before + 2 * PipePool.MAX_IDLE, openFds(), "only the idle pipes stay open");
        assertEquals((long) PipePool.MAX_IDLE * MIB, pool.largeBytes(), "the large pipes are the ones kept");
        long q = pool.acquire();
        assertEquals(MIB, pool.capacity(q));
        pool.release(q, true);
        pool.close();
        assertEquals(before, openFds());
    }

    @Test
    void defaultBudgetIsHalfTheUserLimitAtMost32MiB() {
        assertEquals(32L * MIB, PipePool.defaultMemory(16384), "the kernel's default soft limit: 64 MiB");
        assertEquals(8L * MIB, PipePool.defaultMemory(4096));
        assertEquals(32L * MIB, PipePool.defaultMemory(1 << 20));
        assertEquals(32L * MIB, PipePool.defaultMemory(0), "0 means no kernel limit");
    }

    @Test
    void zeroBudgetMeansNoLargePipe() {
        PipePool pool = pool(2, 0, 0);
        long p = pool.acquire();
        try {
            assertEquals(KERNEL, pool.capacity(p));
            assertEquals(0, pool.largeBytes());
        } finally {
            pool.release(p, true);
            pool.close();
        }
    }

    /**
     * A pipe the kernel made small (past the per-user limit: 2 slots, and EPERM on growing it) is
     * closed when it comes back, not kept idle: a fast stream reusing it would splice 8 KiB at a
     * time. The syscall double plays the kernel over the limit.
     */
    @Test
    void pipesTheKernelShrankAreNotKeptIdle() {
        org.forwarder.it.FaultySyscalls sys = new org.forwarder.it.FaultySyscalls();
        sys.shrinkPipes(8192);
        PipePool p = new PipePool(sys, 8, 0, -1, 1024, stats, log::add);
        long a = p.acquire();
        long b = p.acquire();
        assertTrue(a >= 0 && b >= 0);
        assertEquals(8192, p.capacity(a));
        p.release(a, true);
        p.release(b, true);
        assertEquals(0, p.free(), "shrunk pipes must be closed, not pooled");
        assertEquals(0, p.inUse());
        p.close();
    }
}
