package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>...}, as HAProxy 2.6 documents it
 * (doc/configuration.txt) and parses it (parse_process_number, parse_cpu_set), with the lines it
 * would silently misread turned into errors.
 */
class CpuMapConfigTest {
    private static final String PROXY = "listen w\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n"
            + "    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n";

    private static Config parse(String globalLines) throws ConfigException {
        return ConfigParser.parse("global\n    nbthread 64\n" + globalLines + PROXY, "t.cfg");
    }

    private static CpuMap map(String globalLines) throws ConfigException {
        return parse(globalLines).global().cpuMap();
    }

    private static int[] range(int from, int to) {
        return IntStream.rangeClosed(from, to).toArray();
    }

    /** The map as "thread:cpus" for every pinned thread, 1-based as in the file. */
    private static String pins(CpuMap m) {
        return m.toString();
    }

    @Test
    void absentMeansNoLoopPinned() throws ConfigException {
        CpuMap m = map("");
        assertTrue(m.isEmpty());
        assertEquals(CpuMap.NONE, m);
        assertEquals(0, m.cpusOf(0).length);
        assertNull(m.originOf(0));
        assertEquals(CpuMap.NONE, GlobalConfig.defaults().cpuMap());
        assertEquals(CpuMap.NONE, new GlobalConfig(100, 7, 2, 16384, 0, 2, 0, false).cpuMap());
    }

    @Test
    void oneThreadGetsTheWholeCpuSet() throws ConfigException {
        CpuMap m = map("    cpu-map 1/1 0\n    cpu-map 1/2 1\n");
        assertArrayEquals(new int[] {0}, m.cpusOf(0));
        assertArrayEquals(new int[] {1}, m.cpusOf(1));
        assertEquals(0, m.cpusOf(2).length);
        assertEquals("t.cfg:3", m.originOf(0));
        assertEquals("t.cfg:4", m.originOf(1));
        assertEquals("CpuMap[1:0 2:1]", pins(m));
        assertEquals(new CpuMap.Builder().pin(0, 0).pin(1, 1).build(), m);
    }

    @Test
    void threadSetForms() throws ConfigException {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("1/3 5", "CpuMap[3:5]");
        cases.put("1/2-4 0-1", "CpuMap[2:0-1 3:0-1 4:0-1]");
        cases.put("1/4-2 0", "CpuMap[2:0 3:0 4:0]"); // reversed bounds are swapped, as HAProxy
        cases.put("1/62- 7", "CpuMap[62:7 63:7 64:7]");
        cases.put("all/64 3", "CpuMap[64:3]");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            assertEquals(c.getValue(), pins(map("    cpu-map " + c.getKey() + "\n")), c.getKey());
        }
        CpuMap all = map("    cpu-map 1/all 2-3\n");
        CpuMap odd = map("    cpu-map 1/odd 2\n");
        CpuMap even = map("    cpu-map 1/even 3\n");
        for (int t = 0; t < 64; t++) {
            assertArrayEquals(new int[] {2, 3}, all.cpusOf(t));
            assertArrayEquals(t % 2 == 0 ? new int[] {2} : new int[0], odd.cpusOf(t), "odd: thread " + (t + 1));
            assertArrayEquals(t % 2 == 1 ? new int[] {3} : new int[0], even.cpusOf(t), "even: thread " + (t + 1));
        }
    }

    @Test
    void withoutThreadSetTheWholeProcessIsMappedLikeOneSlashAll() throws ConfigException {
        assertEquals(map("    cpu-map 1/all 0-3\n"), map("    cpu-map 1 0-3\n"));
        assertEquals(map("    cpu-map 1/all 0-3\n"), map("    cpu-map all 0-3\n"));
        assertArrayEquals(range(0, 3), map("    cpu-map 1 0-3\n").cpusOf(63));
        assertEquals(map("    cpu-map 1/all 5\n"), map("    cpu-map auto:1 5\n"), "auto: on the one process and one CPU");
    }

    @Test
    void cpuSetForms() throws ConfigException {
        assertArrayEquals(new int[] {0, 2, 3, 4, 9}, map("    cpu-map 1/1 9 2-4 0\n").cpusOf(0), "several words, any order");
        assertArrayEquals(new int[] {1, 2, 3}, map("    cpu-map 1/1 3-1\n").cpusOf(0), "reversed bounds");
        assertArrayEquals(new int[] {1, 2}, map("    cpu-map 1/1 1-2 2 1\n").cpusOf(0), "overlaps count once");
        assertArrayEquals(range(1020, 1023), map("    cpu-map 1/1 1020-\n").cpusOf(0), "open range up to CPU_SETSIZE - 1");
        assertArrayEquals(range(0, 1023), map("    cpu-map 1/1 0-\n").cpusOf(0));
        assertArrayEquals(new int[] {1023}, map("    cpu-map 1/1 1023\n").cpusOf(0));
    }

    @Test
    void autoPairsThreadsAndCpusInIncreasingOrder() throws ConfigException {
        // the three equivalent lines of HAProxy's documentation
        String expected = "CpuMap[1:0 2:1 3:2 4:3]";
        assertEquals(expected, pins(map("    cpu-map auto:1/1-4 0-3\n")));
        assertEquals(expected, pins(map("    cpu-map auto:1/1-4 0-1 2-3\n")));
        assertEquals(expected, pins(map("    cpu-map auto:1/1-4 3 2 1 0\n")));
        assertEquals("CpuMap[1:0 2:1]", pins(map("    cpu-map auto:1/1-2 0-1\n")));
        assertEquals("CpuMap[3:8 4:9 5:10]", pins(map("    cpu-map auto:1/3-5 8-10\n")));
        CpuMap all = map("    cpu-map auto:1/all 0-63\n");
        CpuMap even = map("    cpu-map auto:1/even 0-31\n");
        CpuMap odd = map("    cpu-map auto:1/odd 32-63\n");
        for (int t = 0; t < 64; t++) {
            assertArrayEquals(new int[] {t}, all.cpusOf(t));
            assertArrayEquals(t % 2 == 1 ? new int[] {t / 2} : new int[0], even.cpusOf(t), "even: thread " + (t + 1));
            assertArrayEquals(t % 2 == 0 ? new int[] {32 + t / 2} : new int[0], odd.cpusOf(t), "odd: thread " + (t + 1));
        }
        assertEquals("CpuMap[2:7]", pins(map("    cpu-map auto:1/2 7\n")));
    }

    @Test
    void laterLinesReplaceWhatEarlierOnesGaveTheSameThreads() throws ConfigException {
        assertEquals("CpuMap[1:0 2:1 3:0 4:0]", pins(map("    cpu-map 1/1-4 0\n    cpu-map 1/2 1\n")));
        assertEquals("CpuMap[1:0 2:0 3:0 4:0]", pins(map("    cpu-map 1/2 1\n    cpu-map 1/1-4 0\n")));
        CpuMap m = map("    cpu-map 1 0-1\n    cpu-map auto:1/1-2 1 0\n    cpu-map 1/2 5\n");
        assertArrayEquals(new int[] {0}, m.cpusOf(0));
        assertArrayEquals(new int[] {5}, m.cpusOf(1));
        assertArrayEquals(new int[] {0, 1}, m.cpusOf(2));
        assertEquals("t.cfg:4", m.originOf(0));
        assertEquals("t.cfg:5", m.originOf(1));
        assertEquals("t.cfg:3", m.originOf(2));
        // several global sections add up, as for every other global keyword
        Config two = ConfigParser.parse("global\n    nbthread 2\n    cpu-map 1/1 0\nglobal\n    cpu-map 1/2 1\n" + PROXY, "t.cfg");
        assertEquals("CpuMap[1:0 2:1]", pins(two.global().cpuMap()));
    }

    @Test
    void cpuMapIsCarriedByTheWithMethods() throws ConfigException {
        GlobalConfig g = parse("    cpu-map 1/1 1\n").global();
        CpuMap m = g.cpuMap();
        assertEquals(m, g.withMaxconn(5).cpuMap());
        assertEquals(m, g.withMaxpipes(5).cpuMap());
        assertEquals(m, g.withNbthread(2).cpuMap());
        assertEquals(CpuMap.NONE, g.withCpuMap(CpuMap.NONE).cpuMap());
        assertEquals(g, g.withCpuMap(CpuMap.NONE).withCpuMap(m));
        assertThrows(NullPointerException.class, () -> g.withCpuMap(null));
    }

    @Test
    void cpuListsArePrintedInTheKernelsNotation() {
        assertEquals("0-3,6,8-9", CpuMap.format(new int[] {0, 1, 2, 3, 6, 8, 9}));
        assertEquals("5", CpuMap.format(new int[] {5}));
        assertEquals("", CpuMap.format(new int[0]));
    }

    @Test
    void mapIsImmutable() throws ConfigException {
        CpuMap m = map("    cpu-map 1/1 0-1\n");
        m.cpusOf(0)[0] = 7;
        assertArrayEquals(new int[] {0, 1}, m.cpusOf(0));
        CpuMap.Builder b = new CpuMap.Builder().pin(0, 1);
        CpuMap built = b.build();
        b.pin(0, 2);
        assertArrayEquals(new int[] {1}, built.cpusOf(0), "pinning after build() does not change what was built");
    }

    @Test
    void badLinesNameFileLineAndWhatIsWrong() {
        Map<String, String> cases = new LinkedHashMap<>();
        String usage = "t.cfg:3: 'cpu-map' expects [auto:]<process>[/<threads>] followed by one or more CPU sets";
        cases.put("cpu-map", usage);
        cases.put("cpu-map 1/1", usage);
        cases.put("cpu-map 2 0", "t.cfg:3: 'cpu-map' process set '2' names processes other than 1: nbproc was removed"
                + " in HAProxy 2.5 and the only process is 1");
        cases.put("cpu-map 2/1 0", "t.cfg:3: 'cpu-map' process set '2' names processes other than 1");
        cases.put("cpu-map 1-2/1 0", "t.cfg:3: 'cpu-map' process set '1-2' names processes other than 1");
        cases.put("cpu-map odd/1 0", "t.cfg:3: 'cpu-map' process set 'odd' names processes other than 1");
        cases.put("cpu-map x/1 0", "t.cfg:3: 'cpu-map' 'x' is not a valid process set: expected 1 or all");
        cases.put("cpu-map /1 0", "t.cfg:3: 'cpu-map' '' is not a valid process set");
        cases.put("cpu-map 1/ 0", "t.cfg:3: 'cpu-map' '' is not a valid thread set: expected all, odd, even, a thread"
                + " number from 1 to 64 or a range (1-4, 2-)");
        cases.put("cpu-map 1/x 0", "t.cfg:3: 'cpu-map' 'x' is not a valid thread set");
        cases.put("cpu-map 1/1x 0", "t.cfg:3: 'cpu-map' '1x' is not a valid thread set");
        cases.put("cpu-map 1/1-2/3 0", "t.cfg:3: 'cpu-map' '1-2/3' is not a valid thread set");
        cases.put("cpu-map 1/auto:1 0", "t.cfg:3: 'cpu-map' 'auto:1' is not a valid thread set");
        cases.put("cpu-map 1/0 0", "t.cfg:3: 'cpu-map' '0' is out of range: thread numbers go from 1 to 64");
        cases.put("cpu-map 1/65 0", "t.cfg:3: 'cpu-map' '65' is out of range: thread numbers go from 1 to 64");
        cases.put("cpu-map 1/1-99999999999 0", "t.cfg:3: 'cpu-map' '1-99999999999' is out of range");
        cases.put("cpu-map 1/-2 0", "t.cfg:3: 'cpu-map' '-2' is not a valid thread set: a range needs its lower bound"
                + " (1-2); only the upper one may be left out (2-)");
        cases.put("cpu-map 1/1 x", "t.cfg:3: 'cpu-map' 'x' is not a CPU set: expected a CPU number from 0 to 1023 or a"
                + " range (0-3, 2-)");
        cases.put("cpu-map 1/1 1x", "t.cfg:3: 'cpu-map' '1x' is not a CPU set");
        cases.put("cpu-map 1/1 -1", "t.cfg:3: 'cpu-map' '-1' is not a CPU set");
        cases.put("cpu-map 1/1 all", "t.cfg:3: 'cpu-map' 'all' is not a CPU set");
        cases.put("cpu-map 1/1 1024", "t.cfg:3: 'cpu-map' '1024' is out of range: CPU numbers go from 0 to 1023");
        cases.put("cpu-map 1/1 0-1024", "t.cfg:3: 'cpu-map' '0-1024' is out of range");
        cases.put("cpu-map 1/1 0,1", "t.cfg:3: 'cpu-map' '0,1' is not a CPU set: HAProxy 2.6 does not accept commas in"
                + " cpu-map (it would silently keep only what comes before the first comma); write each CPU or range as"
                + " its own word, e.g. '0 1'");
        cases.put("cpu-map 1/1 0-1,4", "t.cfg:3: 'cpu-map' '0-1,4' is not a CPU set: HAProxy 2.6 does not accept commas");
        cases.put("cpu-map auto:1/1-4 0", "t.cfg:3: 'cpu-map' 'auto:' pairs threads with CPUs one to one, so both sets"
                + " must have the same size: 4 thread(s) (1-4) but 1 CPU(s) (0)");
        cases.put("cpu-map auto:1/1 0-3", "t.cfg:3: 'cpu-map' 'auto:' pairs threads with CPUs one to one, so both sets"
                + " must have the same size: 1 thread(s) (1) but 4 CPU(s) (0-3)");
        cases.put("cpu-map auto:1/all 0-1", "t.cfg:3: 'cpu-map' 'auto:' pairs threads with CPUs one to one, so both sets"
                + " must have the same size: 64 thread(s) (1-64) but 2 CPU(s) (0-1)");
        cases.put("cpu-map auto:1 0-1", "t.cfg:3: 'cpu-map' 'auto:' without a thread set binds the one process, so it"
                + " needs exactly one CPU, got 2 (0-1)");
        cases.put("cpu-map auto:2/1 0", "t.cfg:3: 'cpu-map' process set '2' names processes other than 1");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            ConfigException e = assertThrows(ConfigException.class, () -> parse("    " + c.getKey() + "\n"), c.getKey());
            assertEquals(1, e.errors().size(), e.getMessage());
            assertTrue(e.errors().getFirst().startsWith(c.getValue()),
                    () -> c.getKey() + ":\n" + c.getValue() + "\nis not the start of\n" + e.getMessage());
        }
    }

    @Test
    void everyBadLineIsReportedAndGoodOnesAroundThemStillCount() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> parse("    cpu-map 1/1 0\n    cpu-map 3/1 0\n    cpu-map 1/2 0,1\n    cpu-map 1/3 2\n"));
        assertEquals(2, e.errors().size(), e.getMessage());
        assertTrue(e.errors().get(0).startsWith("t.cfg:4: 'cpu-map' process set '3'"), e.getMessage());
        assertTrue(e.errors().get(1).startsWith("t.cfg:5: 'cpu-map' '0,1' is not a CPU set"), e.getMessage());
    }

    @Test
    void onlyInGlobal() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen w\n    cpu-map 1/1 0\n    bind 127.0.0.1:1\n    server s 127.0.0.1:2\n", "t.cfg"));
        assertEquals(List.of("t.cfg:2: 'cpu-map' is only allowed in the 'global' section, not in 'listen'"), e.errors());
    }

    @Test
    void threadsBeyondNbthreadAreIgnoredWithAWarning() throws ConfigException {
        Config c = ConfigParser.parse("global\n    nbthread 2\n    cpu-map 1/1-4 0\n    cpu-map 1/3 1\n"
                + "    cpu-map 1/all 2\n    cpu-map 1/2- 3\n    cpu-map 1/odd 4\n    cpu-map 1/5- 5\n"
                + "    cpu-map auto:1/1-4 6-9\n" + PROXY, "t.cfg");
        assertEquals(List.of(
                "t.cfg:3: 'cpu-map' names threads 3-4 but nbthread is 2: those threads are ignored",
                "t.cfg:4: 'cpu-map' pins no event loop: it names only threads beyond the last one (nbthread is 2),"
                        + " and those are ignored",
                "t.cfg:8: 'cpu-map' pins no event loop: it names only threads beyond the last one (nbthread is 2),"
                        + " and those are ignored",
                "t.cfg:9: 'cpu-map' names threads 3-4 but nbthread is 2: those threads are ignored"), c.warnings());
        // with auto:, the pairing is over the whole thread set, then threads beyond the loops are dropped
        assertArrayEquals(new int[] {6}, c.global().cpuMap().cpusOf(0));
        assertArrayEquals(new int[] {7}, c.global().cpuMap().cpusOf(1));
        // all, odd, even and open ranges reaching past nbthread are the usual way to write "every thread": no warning
        Config quiet = ConfigParser.parse("global\n    nbthread 2\n    cpu-map 1/all 0\n    cpu-map 1/odd 0\n"
                + "    cpu-map 1/even 1\n    cpu-map 1/2- 1\n    cpu-map 1 0-1\n    cpu-map 1/1-2 0\n" + PROXY, "t.cfg");
        assertEquals(List.of(), quiet.warnings());
    }

    @Test
    void withoutNbthreadTheWarningCountsTheUsableCpus() throws ConfigException {
        int loops = Math.min(64, Runtime.getRuntime().availableProcessors());
        Config c = ConfigParser.parse("global\n    cpu-map 1/64 0\n" + PROXY, "t.cfg");
        if (loops < 64) {
            assertEquals(List.of("t.cfg:2: 'cpu-map' pins no event loop: it names only threads beyond the last one"
                    + " (nbthread is not set, so there is one event loop per usable CPU: " + loops + "), and those are"
                    + " ignored"), c.warnings());
        } else {
            assertFalse(c.warnings().stream().anyMatch(w -> w.contains("cpu-map")));
        }
    }
}
