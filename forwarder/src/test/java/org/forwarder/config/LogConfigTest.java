package org.forwarder.config;

import org.forwarder.sys.SockConst;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code log}, {@code log global}, {@code no log}, {@code option tcplog}, {@code log-format}, {@code option dontlognull}, {@code log-tag}. */
class LogConfigTest {

    private static final String LISTEN = """
            listen l
                bind 127.0.0.1:0
                server s 127.0.0.1:9
            """;

    private static Config parse(String text) throws ConfigException {
        return ConfigParser.parse(text, "t.cfg");
    }

    private static String error(String text) {
        return assertThrows(ConfigException.class, () -> parse(text)).getMessage();
    }

    @Test
    void targetsOfEveryKindWithHaproxysDefaults() throws ConfigException {
        Config c = parse("""
                global
                    log 127.0.0.1 local0
                    log udp@127.0.0.1:1514 len 2048 format rfc5424 local7 notice err
                    log /dev/log daemon
                    log stdout format raw local0
                    log stderr format short user debug
                    log-tag edge-1
                """ + LISTEN);
        List<LogTarget> t = c.global().logs().targets();
        assertEquals(5, t.size());
        assertEquals(LogTarget.Kind.UDP, t.get(0).kind());
        assertEquals(514, t.get(0).address().port());
        assertEquals(SockConst.AF_INET, t.get(0).address().family());
        assertEquals(LogTarget.Format.RFC3164, t.get(0).format());
        assertEquals(16, t.get(0).facility());
        assertEquals(LogTarget.DEBUG, t.get(0).maxLevel());
        assertEquals(LogTarget.DEFAULT_LEN, t.get(0).maxLen());
        assertEquals("t.cfg:3", t.get(1).where());
        assertEquals(1514, t.get(1).address().port());
        assertEquals(2048, t.get(1).maxLen());
        assertEquals(LogTarget.Format.RFC5424, t.get(1).format());
        assertEquals(23, t.get(1).facility());
        assertEquals(LogTarget.NOTICE, t.get(1).maxLevel());
        assertEquals(LogTarget.ERR, t.get(1).minLevel());
        assertEquals(LogTarget.Kind.UNIX, t.get(2).kind());
        assertEquals("/dev/log", t.get(2).path());
        assertEquals(LogTarget.Kind.STDOUT, t.get(3).kind());
        assertEquals(LogTarget.Format.RAW, t.get(3).format());
        assertEquals(LogTarget.Kind.STDERR, t.get(4).kind());
        assertEquals(LogTarget.Format.SHORT, t.get(4).format());
        assertEquals("edge-1", c.global().logs().tag());
        // no proxy logs anything without 'log global' or a log line of its own
        assertFalse(c.frontend("l").logs().active());
    }

    @Test
    void logGlobalNoLogAndInheritance() throws ConfigException {
        Config c = parse("""
                global
                    log 127.0.0.1:514 local0
                defaults
                    mode tcp
                    log global
                    option tcplog
                    option dontlognull
                frontend a
                    bind 127.0.0.1:0
                    default_backend b
                frontend quiet
                    bind 127.0.0.1:0
                    no log
                    default_backend b
                frontend own
                    bind 127.0.0.1:0
                    log 127.0.0.1:1515 local3
                    no option dontlognull
                    log-format "%ci %ts"
                    default_backend b
                backend b
                    server s 127.0.0.1:9
                """);
        LogSettings a = c.frontend("a").logs();
        assertTrue(a.active());
        assertSame(LogFormat.TCPLOG, a.format());
        assertTrue(a.dontLogNull());
        assertSame(c.global().logs().targets().getFirst(), a.targets().getFirst(), "'log global' shares the global target");
        assertFalse(c.frontend("quiet").logs().active());
        assertTrue(c.frontend("quiet").logs().targets().isEmpty());
        LogSettings own = c.frontend("own").logs();
        assertEquals(2, own.targets().size(), "inherited 'log global' plus its own line");
        assertEquals(1515, own.targets().get(1).address().port());
        assertFalse(own.dontLogNull());
        assertEquals("%ci %ts", own.format().text());
    }

    @Test
    void formatVariablesCompile() {
        LogFormat f = LogFormat.parse(LogFormat.TCPLOG_TEXT);
        assertTrue(f.uses(LogFormat.Var.TERM_STATE));
        assertFalse(f.uses(LogFormat.Var.FRONTEND_IP));
        LogFormat g = LogFormat.parse("100%% %fi:%fp");
        assertEquals("100% ", new String((byte[]) g.part(0)));
        assertSame(LogFormat.Var.FRONTEND_IP, g.part(1));
        assertSame(LogFormat.Var.FRONTEND_PORT, g.part(3));
    }

    @Test
    void badLinesNameFileLineAndProblem() {
        Map<String, String> cases = Map.ofEntries(
                Map.entry("global\n    log 127.0.0.1 local9\n", "t.cfg:2: 'log' unknown log facility 'local9'"),
                Map.entry("global\n    log 127.0.0.1\n", "t.cfg:2: 'log' expects an address and a facility"),
                Map.entry("global\n    log 127.0.0.1 len 10 local0\n", "t.cfg:2: 'log' invalid log length '10', must be between 80 and 65535"),
                Map.entry("global\n    log 127.0.0.1 len 70000 local0\n", "t.cfg:2: 'log' invalid log length '70000'"),
                Map.entry("global\n    log 127.0.0.1 format foo local0\n", "t.cfg:2: 'log' unknown log format 'foo'"),
                Map.entry("global\n    log 127.0.0.1 format iso local0\n", "t.cfg:2: 'log' log format 'iso' is not supported by forwarder"),
                Map.entry("global\n    log 127.0.0.1 local0 bogus\n", "t.cfg:2: 'log' unknown optional log level 'bogus'"),
                Map.entry("global\n    log 127.0.0.1 local0 info bogus\n", "t.cfg:2: 'log' unknown optional minimum log level 'bogus'"),
                Map.entry("global\n    log 127.0.0.1 local0 info notice extra\n", "t.cfg:2: 'log' unexpected argument 'extra'"),
                Map.entry("global\n    log 127.0.0.1:99999 local0\n", "t.cfg:2: 'log' log address '127.0.0.1:99999'"),
                Map.entry("global\n    log ring@buf local0\n", "t.cfg:2: 'log' 'ring@' log targets are not supported by forwarder"),
                Map.entry("global\n    log global\n", "t.cfg:2: 'log' 'global' is only meaningful in a proxy section"),
                Map.entry("global\n    log-tag\n", "t.cfg:2: 'log-tag' expects a tag"),
                Map.entry("global\n    log-tag a/b\n", "t.cfg:2: 'log-tag' 'a/b' is not a plain tag"),
                Map.entry("listen l\n    log global extra\n", "t.cfg:2: 'log' 'log global' takes no more argument, got 'extra'"),
                Map.entry("listen l\n    no log extra\n", "t.cfg:2: 'no log' takes no argument, got 'extra'"),
                Map.entry("listen l\n    option tcplog extra\n", "t.cfg:2: 'option tcplog' takes no argument, got 'extra'"),
                Map.entry("backend b\n    option tcplog\n", "t.cfg:2: 'option tcplog' is only allowed in 'defaults', 'frontend' and 'listen' sections"),
                Map.entry("backend b\n    log-format %ci\n", "t.cfg:2: 'log-format' is only allowed in"),
                Map.entry("listen l\n    log-format %ci %cp\n", "t.cfg:2: 'log-format' expects exactly one argument, got 2: quote the format"),
                Map.entry("listen l\n    log-format %ci:%zz\n", "t.cfg:2: 'log-format' unknown variable '%zz' (supported: %ci"),
                Map.entry("listen l\n    log-format %ST\n", "t.cfg:2: 'log-format' variable '%ST' does not apply to 'mode tcp'"),
                Map.entry("listen l\n    log-format %{+Q}ci\n", "t.cfg:2: 'log-format' variable flags ('%{...}') are not supported"),
                Map.entry("listen l\n    log-format %[src]\n", "t.cfg:2: 'log-format' sample expressions ('%[...]') are not supported"),
                Map.entry("listen l\n    log-format \"a % b\"\n", "t.cfg:2: 'log-format' '%' at position 2 is not followed by a variable name"));
        cases.forEach((text, expected) -> {
            String msg = error(text);
            assertTrue(msg.contains(expected), () -> expected + "\n  not in:\n" + msg);
        });
    }

    @Test
    void aFormatWithNowhereToGoIsAWarning() throws ConfigException {
        Config c = parse("defaults\n    mode tcp\n    option tcplog\n" + LISTEN);
        assertTrue(c.warnings().stream().anyMatch(w -> w.contains("log format ignored for listen 'l' since it has no log address")),
                c.warnings().toString());
        assertTrue(c.frontend("l").logs().targets().isEmpty());
        assertFalse(c.frontend("l").logs().active());
    }
}
