package org.forwarder.stats;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code show info} against HAProxy 2.6.12's answer (test resource) and made-up counters. */
class ShowInfoTest {
    private static Map<String, String> parse(String text) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.isEmpty()) continue;
            int colon = line.indexOf(": ");
            assertTrue(colon > 0, "'Name: value' line: " + line);
            m.put(line.substring(0, colon), line.substring(colon + 2));
        }
        return m;
    }

    private static ShowInfo.Process process() {
        return new ShowInfo.Process("forwarder", "0.1.0", "2026/12/01", 4242, 1_796_000_000L, 1_796_000_000L + 93_784,
                2, 8029, 8029, 4000, 1000, 3, "vm", false);
    }

    private static StatsSnapshot snapshot() {
        StatsRegistry reg = new StatsRegistry(List.of("f"), Map.of("b", List.of("s")));
        LoopCounters a = reg.newLoop();
        LoopCounters b = reg.newLoop();
        a.process().add(ProcessCounter.CURR_CONNS, 3);
        b.process().add(ProcessCounter.CURR_CONNS, 2);
        a.process().add(ProcessCounter.CUM_CONNS, 100);
        b.process().add(ProcessCounter.CUM_CONNS, 23);
        a.process().add(ProcessCounter.PIPES_USED, 4);
        a.process().add(ProcessCounter.PIPES_FREE, 6);
        a.process().add(ProcessCounter.REQUEST_BYTES_COPIED, 1000);
        b.process().add(ProcessCounter.RESPONSE_BYTES_COPIED, 20_000);
        a.process().add(ProcessCounter.REQUEST_BYTES_SPLICED, 300_000);
        b.process().add(ProcessCounter.RESPONSE_BYTES_SPLICED, 4_000_000);
        return reg.snapshot();
    }

    @Test
    void fieldNamesAndOrderAreHaproxys() throws IOException {
        String captured = ShowStatTest.resource("haproxy-2.6.12-show-info.txt");
        assertTrue(captured.endsWith("\n\n"), "captured answer ends with the CLI's empty line");
        List<String> want = List.copyOf(parse(captured).keySet());
        List<String> got = List.copyOf(parse(ShowInfo.of(process(), snapshot()).render()).keySet());
        assertEquals(want, got);
        assertEquals(want, Arrays.stream(ShowInfo.Field.values()).map(ShowInfo.Field::label).toList());
    }

    @Test
    void valuesFromProcessAndSnapshot() {
        String text = ShowInfo.of(process(), snapshot()).render();
        assertTrue(text.endsWith("\n") && !text.endsWith("\n\n"), "no CLI terminator in the renderer");
        Map<String, String> m = parse(text);
        assertEquals(ShowInfo.Field.values().length, m.size());
        assertEquals("forwarder", m.get("Name"));
        assertEquals("0.1.0", m.get("Version"));
        assertEquals("2", m.get("Nbthread"));
        assertEquals("1", m.get("Nbproc"));
        assertEquals("4242", m.get("Pid"));
        assertEquals("1d 2h03m04s", m.get("Uptime"));
        assertEquals("93784", m.get("Uptime_sec"));
        assertEquals("4000", m.get("Maxconn"));
        assertEquals("4000", m.get("Hard_maxconn"));
        assertEquals("5", m.get("CurrConns"));
        assertEquals("123", m.get("CumConns"));
        assertEquals("123", m.get("CumReq"));
        assertEquals("1000", m.get("Maxpipes"));
        assertEquals("4", m.get("PipesUsed"));
        assertEquals("6", m.get("PipesFree"));
        assertEquals("8", m.get("Jobs"));
        assertEquals("3", m.get("Listeners"));
        assertEquals("4321000", m.get("TotalBytesOut"));
        assertEquals("4300000", m.get("TotalSplicdedBytesOut"));
        assertEquals("vm", m.get("node"));
        assertEquals("1796000000", m.get("Start_time_sec"));
        assertEquals("0", m.get("ConnRate"), "not counted yet: 0 as HAProxy prints an unused counter");
    }

    @Test
    void uptimeFormatMatchesHaproxy() {
        assertEquals("0d 0h00m01s", ShowInfo.uptime(1));
        assertEquals("0d 0h01m00s", ShowInfo.uptime(60));
        assertEquals("10d 23h59m59s", ShowInfo.uptime(10 * 86400 + 86399));
    }

    @Test
    void setReplacesAField() {
        ShowInfo i = ShowInfo.of(process(), snapshot()).set(ShowInfo.Field.CONN_RATE, 17);
        assertEquals("17", parse(i.render()).get("ConnRate"));
    }
}
