package org.forwarder;

import org.forwarder.config.CpuMap;
import org.forwarder.it.Peers;
import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.forwarder.sys.Errno;
import org.forwarder.sys.Syscalls;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * cpu-map on running event loops: each loop's thread is asked, on that thread, what the kernel
 * says it may run on (/proc/thread-self/status, Cpus_allowed_list: the kernel's own view, not our
 * syscall's), and traffic still flows. A CPU the kernel refuses leaves the loop running unpinned
 * (HAProxy 2.6 ignores the failure) with a warning naming the loop, the CPUs and the cpu-map line.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class CpuMapForwarderTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();

    private static final String LISTEN = """
            listen l
                bind 127.0.0.1:0
                server s 127.0.0.1:%d
            """;

    /**
     * The pin stays on the loops' threads: once the forwarder is closed, every thread of this JVM
     * (test runner, JIT, GC, the test servers' threads) may still run on every CPU of the process.
     */
    @AfterEach
    void noOtherThreadIsPinned() throws Exception {
        cleanup.close();
        String expected = CpuMap.format(processCpus());
        List<String> pinned = new ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : tasks.toList()) {
                try {
                    String name = Files.readString(task.resolve("comm")).strip();
                    String cpus = CpuMap.format(cpusAllowed(task.resolve("status")));
                    if (!cpus.equals(expected)) pinned.add(name + " (task " + task.getFileName() + "): " + cpus);
                } catch (NoSuchFileException | UncheckedIOException gone) {
                    // the thread ended meanwhile
                }
            }
        }
        assertEquals(List.of(), pinned, "threads not allowed every CPU of the process (" + expected + ")");
    }

    private Fw start(String globalLines) throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 16, Peers.ECHO));
        return Peers.startText(cleanup, "global\n    nbthread 2\n" + globalLines + Peers.defaults("10s")
                + LISTEN.formatted(echo.port()));
    }

    /** The CPUs loop {@code i}'s thread may run on, read by that thread from the kernel's report. */
    private static int[] cpusOfLoop(Fw fw, int i) {
        return fw.fw.call(i, w -> {
            try {
                return cpusAllowed(Path.of("/proc/thread-self/status"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** The CPUs this process may use: the test thread's set (nothing here pins it). */
    private static int[] processCpus() throws IOException {
        return cpusAllowed(Path.of("/proc/self/status"));
    }

    private static int[] cpusAllowed(Path status) throws IOException {
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("Cpus_allowed_list:")) return parseList(line.substring(line.indexOf(':') + 1).strip());
        }
        throw new IOException("no Cpus_allowed_list in " + status);
    }

    private static int[] parseList(String list) {
        List<Integer> cpus = new ArrayList<>();
        for (String part : list.split(",")) {
            if (part.isEmpty()) continue;
            int dash = part.indexOf('-');
            int lo = Integer.parseInt(dash < 0 ? part : part.substring(0, dash));
            int hi = dash < 0 ? lo : Integer.parseInt(part.substring(dash + 1));
            for (int c = lo; c <= hi; c++) cpus.add(c);
        }
        return cpus.stream().mapToInt(Integer::intValue).toArray();
    }

    private static boolean online(int cpu) throws IOException {
        return Arrays.stream(parseList(Files.readString(Path.of("/sys/devices/system/cpu/online")).strip()))
                .anyMatch(c -> c == cpu);
    }

    /** A few bytes through the forwarder and back, byte for byte, on a handful of connections (both loops get some). */
    private void relays(Fw fw) throws IOException {
        for (int i = 0; i < 8; i++) {
            Socket s = Peers.connect(cleanup, fw.port);
            byte[] msg = ("through loop pinning " + i).getBytes(StandardCharsets.UTF_8);
            assertArrayEquals(msg, Peers.exchange(s, msg));
            s.close();
        }
    }

    @Test
    void eachLoopRunsOnlyOnTheCpuItsLineNames() throws Exception {
        int[] allowed = processCpus();
        assumeTrue(allowed.length >= 2, "this process may use only CPU " + Arrays.toString(allowed) + ": two are needed");
        int a = allowed[0], b = allowed[1];
        Fw fw = start("    cpu-map 1/1 " + a + "\n    cpu-map 1/2 " + b + "\n");
        assertArrayEquals(new int[] {a}, cpusOfLoop(fw, 0), "loop 0 (thread 1)");
        assertArrayEquals(new int[] {b}, cpusOfLoop(fw, 1), "loop 1 (thread 2)");
        relays(fw);
        assertEquals(List.of(), fw.log.stream().filter(l -> l.contains("cpu-map")).toList());
    }

    @Test
    void autoPairsLoopsWithCpusInIncreasingOrder() throws Exception {
        int[] allowed = processCpus();
        assumeTrue(allowed.length >= 2, "this process may use only CPU " + Arrays.toString(allowed) + ": two are needed");
        int a = allowed[0], b = allowed[1];
        String cpus = b == a + 1 ? a + "-" + b : b + " " + a; // as "auto:1/1-2 0-1" where CPUs 0 and 1 are usable
        Fw fw = start("    cpu-map auto:1/1-2 " + cpus + "\n");
        assertArrayEquals(new int[] {a}, cpusOfLoop(fw, 0), "loop 0 (thread 1)");
        assertArrayEquals(new int[] {b}, cpusOfLoop(fw, 1), "loop 1 (thread 2)");
        relays(fw);
    }

    @Test
    void aLoopTheMapDoesNotNameKeepsTheProcessCpus() throws Exception {
        int[] allowed = processCpus();
        int last = allowed[allowed.length - 1];
        Fw fw = start("    cpu-map 1/2 " + last + "\n");
        assertArrayEquals(allowed, cpusOfLoop(fw, 0), "loop 0 is not named: not pinned");
        assertArrayEquals(new int[] {last}, cpusOfLoop(fw, 1), "loop 1 (thread 2)");
        relays(fw);
    }

    @Test
    void cpusTheKernelRefusesAreReportedAndTheLoopsRunAnyway() throws Exception {
        int[] allowed = processCpus();
        int absent = CpuMap.MAX_CPUS - 1;
        assumeTrue(!online(absent), "CPU " + absent + " is online here: no CPU to refuse");
        int a = allowed[0];
        Fw fw = start("    cpu-map 1/1 " + absent + "\n    cpu-map 1/2 " + a + " " + absent + "\n");
        assertArrayEquals(allowed, cpusOfLoop(fw, 0), "refused: loop 0 runs where the process may");
        assertArrayEquals(new int[] {a}, cpusOfLoop(fw, 1), "narrowed: loop 1 runs on the CPU that exists");
        relays(fw);
        List<String> warnings = fw.log.stream().filter(l -> l.contains("cpu-map")).sorted().toList();
        assertEquals(List.of(
                "warning: cpu-map at it.cfg:3: event loop 0 (thread 1) could not be pinned to CPU " + absent
                        + " (sched_setaffinity: EINVAL (invalid argument): none of them is online and allowed to this"
                        + " process); it runs on any CPU the process may use",
                "warning: cpu-map at it.cfg:4: event loop 1 (thread 2) asked for CPU " + a + "," + absent
                        + " but runs on CPU " + a + " only: CPU " + absent + " does not exist, is offline or is not"
                        + " allowed to this process"), warnings);
    }

    @Test
    void theConfigurationAndTheSyscallAgreeOnTheLargestCpuNumber() {
        assertEquals(Syscalls.MAX_CPUS, CpuMap.MAX_CPUS, "a cpu-map CPU the syscall could not name, or the reverse");
    }

    /** A refusal other than the kernel's EINVAL (here EPERM, from a double) is reported the same way. */
    @Test
    void anyRefusalIsReportedWithItsErrno() {
        CpuMap map = new CpuMap.Builder().pin(1, 0, 1).build();
        Syscalls refusing = new Syscalls() {
            @Override
            public int setThreadAffinity(int[] cpus) {
                return -Errno.EPERM;
            }
        };
        List<String> log = new ArrayList<>();
        LoopAffinity.apply(map, 0, refusing, log::add);
        assertEquals(List.of(), log, "loop 0 is not pinned: no call, no warning");
        LoopAffinity.apply(map, 1, refusing, log::add);
        assertEquals(List.of("warning: cpu-map: event loop 1 (thread 2) could not be pinned to CPU 0-1 (sched_setaffinity:"
                + " EPERM); it runs on any CPU the process may use"),
                log);
    }
}
