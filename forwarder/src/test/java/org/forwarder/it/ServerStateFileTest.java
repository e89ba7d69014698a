package org.forwarder.it;

import org.forwarder.it.Peers.Cleanup;
import org.forwarder.it.Peers.Fw;
import org.forwarder.it.Peers.TestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HAProxy's seamless reload of server states: a process saves {@code show servers state} to a
 * file, the next one starts with {@code load-server-state-from-file} and its servers are where
 * the last one left them (maintenance, drain, weight, a checked server that was DOWN).
 */
class ServerStateFileTest {
    @RegisterExtension
    final Cleanup cleanup = new Cleanup();
    @TempDir
    Path dir;

    private String config(int live, int dead, String more) {
        return "global\n    stats socket " + dir.resolve("a.sock") + " level admin\n" + more
                + Peers.defaults("10s") + """
                backend be
                    server s1 127.0.0.1:%d
                    server s2 127.0.0.1:%d
                    server s3 127.0.0.1:%d check inter 100ms fall 1 rise 3
                    server s4 127.0.0.1:%d check inter 100ms
                frontend fe
                    bind 127.0.0.1:0
                    default_backend be
                """.formatted(live, live, dead, live);
    }

    private static String row(String state, String server) {
        // without the backend's number (it depends on the order of the sections)
        for (String l : state.split("\n")) {
            String[] f = l.split(" ");
            if (f.length > 3 && f[1].equals("be") && f[3].equals(server)) return l.substring(l.indexOf(' ') + 1);
        }
        throw new AssertionError("no row for " + server + " in\n" + state);
    }

    @Test
    void statesSavedByOneProcessAreWhereTheNextOneStarts() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        int dead = Peers.deadPort();
        Fw first = cleanup.add(Peers.startText(cleanup, config(echo.port(), dead, "")));
        Path sock = dir.resolve("a.sock");
        Peers.waitUntil("s3 is DOWN", Duration.ofSeconds(5),
                () -> first.fw.proxies().backend("be").server("s3").op.up() == false);
        assertEquals("\n\n", CliClient.ask(sock, "set server be/s1 state maint; set weight be/s2 5\n"));
        String saved = CliClient.ask(sock, "show servers state\n");
        first.close();
        Path file = dir.resolve("state");
        Files.writeString(file, saved.substring(0, saved.length() - 1) // without the answer's empty line
                + "2 be 9 gone 127.0.0.1 2 0 1 1 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n"
                + "garbage\n");

        Fw next = cleanup.add(Peers.startText(cleanup, config(echo.port(), dead,
                "    server-state-file " + file + "\n").replace("defaults\n", "defaults\n    load-server-state-from-file global\n")));
        String state = CliClient.ask(sock, "show servers state\n");
        assertTrue(row(state, "s1").startsWith("be 1 s1 127.0.0.1 0 1 1 1 "), "maintenance kept: " + state);
        assertTrue(row(state, "s2").startsWith("be 2 s2 127.0.0.1 2 0 5 1 "), "weight kept: " + state);
        assertEquals("0", row(state, "s3").split(" ")[4], "the checked server that was DOWN starts DOWN: " + state);
        assertEquals("2", row(state, "s4").split(" ")[4], state);
        assertTrue(next.log.stream().anyMatch(l -> l.contains("has no server 'gone'")), next.log.toString());
        assertTrue(next.log.stream().anyMatch(l -> l.contains(file + ":") && l.contains("fields")), next.log.toString());
    }

    @Test
    void aMissingOrForeignFileIsAWarningAndTheConfigurationsStatesStand() throws Exception {
        TestServer echo = cleanup.add(new TestServer("echo", 50, Peers.ECHO));
        Path file = dir.resolve("nothing-here");
        Fw fw = cleanup.add(Peers.startText(cleanup, config(echo.port(), Peers.deadPort(),
                "    server-state-file " + file + "\n").replace("defaults\n", "defaults\n    load-server-state-from-file global\n")));
        assertTrue(fw.log.stream().anyMatch(l -> l.contains("does not exist")), fw.log.toString());
        assertTrue(row(CliClient.ask(dir.resolve("a.sock"), "show servers state\n"), "s1").startsWith("be 1 s1 127.0.0.1 2 0 1 1 "));
        fw.close();
        Files.writeString(file, "2\n# a future version\n");
        Fw again = cleanup.add(Peers.startText(cleanup, config(echo.port(), Peers.deadPort(),
                "    server-state-file " + file + "\n").replace("defaults\n", "defaults\n    load-server-state-from-file global\n")));
        assertTrue(again.log.stream().anyMatch(l -> l.contains("unknown version '2'")), again.log.toString());
    }
}
