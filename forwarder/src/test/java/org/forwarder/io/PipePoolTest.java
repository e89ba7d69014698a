package org.forwarder.io;

import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipePoolTest {
    private static int openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        }
    }

    @Test
    void boundedReusedAndClosedWhenReturnedFull() throws IOException {
        Syscalls sys = Syscalls.get();
        int before = openFds();
        PipePool pool = new PipePool(sys, 2, 0);
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
        PipePool pool = new PipePool(Syscalls.get(), 1, 0);
        long p = pool.acquire();
        try {
            assertNotEquals(-1, p);
            // 1 MiB unless /proc/sys/fs/pipe-max-size says less; never below the kernel's 64 KiB
            assertTrue(pool.capacity() >= 65536, "capacity " + pool.capacity());
        } finally {
            pool.release(p, true);
            pool.close();
        }
    }

    @Test
    void tunePipesizeIsApplied() {
        PipePool pool = new PipePool(Syscalls.get(), 1, 131072);
        long p = pool.acquire();
        try {
            assertEquals(131072, pool.capacity());
        } finally {
            pool.release(p, true);
            pool.close();
        }
    }
}
