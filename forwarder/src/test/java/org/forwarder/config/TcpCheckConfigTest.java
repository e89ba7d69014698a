package org.forwarder.config;

import org.forwarder.config.HealthCheck.Kind;
import org.forwarder.config.HealthCheck.TcpCheckRule;
import org.forwarder.config.HealthCheck.TcpCheckRule.Action;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Issue 10: option tcp-check and its rules, the named checks, and the server state file keywords. */
class TcpCheckConfigTest {

    private static Config parse(String text) throws ConfigException {
        return ConfigParser.parse(text, "t.cfg");
    }

    private static List<String> errors(String text) {
        return assertThrows(ConfigException.class, () -> parse(text)).errors();
    }

    private static HealthCheck listen(String lines) throws ConfigException {
        return parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 check\n" + lines).backend("w").healthCheck();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void rulesKeepTheirOrderAndDecodeTheirData() throws ConfigException {
        HealthCheck h = listen("""
                 option tcp-check
                 tcp-check connect
                 tcp-check send PING\\r\\n
                 tcp-check expect string +PONG
                 tcp-check send-binary 0a0B00ff
                 tcp-check expect ! binary DEAD
                 tcp-check expect !rstring ^-ERR\\ .*
                 tcp-check connect port 6380
                 tcp-check send a\\tb\\\\c\\x01\\x7f
                """);
        assertEquals(Kind.TCP_CHECK, h.kind());
        List<TcpCheckRule> r = h.rules();
        assertEquals(List.of(Action.CONNECT, Action.SEND, Action.EXPECT_STRING, Action.SEND, Action.EXPECT_BINARY,
                Action.EXPECT_RSTRING, Action.CONNECT, Action.SEND), r.stream().map(TcpCheckRule::action).toList());
        assertEquals(0, r.get(0).port());
        assertEquals("t.cfg:5", r.get(0).where());
        assertArrayEquals(ascii("PING\r\n"), r.get(1).data());
        assertArrayEquals(ascii("+PONG"), r.get(2).data());
        assertFalse(r.get(2).negate());
        assertArrayEquals(new byte[] {0x0a, 0x0b, 0x00, (byte) 0xff}, r.get(3).data());
        assertArrayEquals(new byte[] {(byte) 0xde, (byte) 0xad}, r.get(4).data());
        assertTrue(r.get(4).negate());
        assertEquals("^-ERR .*", r.get(5).pattern());
        assertNull(r.get(5).data());
        assertTrue(r.get(5).negate());
        assertEquals(6380, r.get(6).port());
        assertArrayEquals(new byte[] {'a', '\t', 'b', '\\', 'c', 0x01, 0x7f}, r.get(7).data());
        assertEquals("t.cfg:12", r.get(7).where());
    }

    @Test
    void optionTcpCheckWithoutRulesIsAConnectCheck() throws ConfigException {
        HealthCheck h = listen(" option tcp-check\n timeout check 2s\n");
        assertEquals(new HealthCheck(Kind.TCP_CHECK, null, List.of(), 2000, false), h);
    }

    @Test
    void namedChecksAndTheLastOptionWins() throws ConfigException {
        assertEquals(new HealthCheck(Kind.REDIS, null, List.of(), 0, false), listen(" option redis-check\n"));
        assertEquals(new HealthCheck(Kind.PGSQL, "pg", List.of(), 0, false), listen(" option pgsql-check user pg\n"));
        assertEquals(new HealthCheck(Kind.MYSQL, "my", List.of(), 0, false), listen(" option mysql-check user my\n"));
        assertEquals(new HealthCheck(Kind.MYSQL, "my", List.of(), 0, false), listen(" option mysql-check user my post-41\n"));
        assertEquals(new HealthCheck(Kind.REDIS, null, List.of(), 0, false),
                listen(" option pgsql-check user pg\n option redis-check\n"));
        HealthCheck h = listen(" option redis-check\n option tcp-check\n tcp-check send x\n");
        assertEquals(Kind.TCP_CHECK, h.kind());
        assertEquals(1, h.rules().size());
        // rules before a named check are its own (replaced), as in HAProxy
        assertEquals(new HealthCheck(Kind.REDIS, null, List.of(), 0, false),
                listen(" option tcp-check\n tcp-check send x\n option redis-check\n"));
    }

    @Test
    void rulesWithoutOptionTcpCheckAreIgnoredWithHaproxysWarning() throws ConfigException {
        Config c = parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 check\n tcp-check send x\n");
        assertEquals(HealthCheck.DEFAULT, c.backend("w").healthCheck());
        assertTrue(c.warnings().contains("t.cfg:1: proxy 'w' uses tcp-check rules without 'option tcp-check', so the rules are ignored"),
                c.warnings().toString());
    }

    @Test
    void defaultsRulesAreInheritedUntilASectionWritesItsOwn() throws ConfigException {
        Config c = parse("""
                defaults
                 option tcp-check
                 tcp-check send a
                 tcp-check send b
                backend inherit
                 server s 127.0.0.1:2 check
                backend own
                 tcp-check send c
                 server s 127.0.0.1:2 check
                backend named
                 option pgsql-check user u
                 server s 127.0.0.1:2 check
                listen w
                 bind 127.0.0.1:1
                 server s 127.0.0.1:2
                """);
        assertEquals(List.of("t.cfg:3", "t.cfg:4"), c.backend("inherit").healthCheck().rules().stream().map(TcpCheckRule::where).toList());
        List<TcpCheckRule> own = c.backend("own").healthCheck().rules();
        assertEquals(1, own.size());
        assertArrayEquals(ascii("c"), own.getFirst().data());
        assertEquals(new HealthCheck(Kind.PGSQL, "u", List.of(), 0, false), c.backend("named").healthCheck());
        assertEquals(Kind.TCP_CHECK, c.backend("w").healthCheck().kind());
        assertEquals(2, c.backend("w").healthCheck().rules().size());
    }

    @Test
    void frontendIgnoresBackendSettingsWithAWarning() throws ConfigException {
        Config c = parse("""
                frontend f
                 bind 127.0.0.1:1
                 default_backend b
                 option redis-check
                 tcp-check send x
                 load-server-state-from-file global
                 server-state-file-name x
                backend b
                 server s 127.0.0.1:2
                """);
        assertEquals(HealthCheck.DEFAULT, c.backend("b").healthCheck());
        assertEquals(ServerStateLoad.NONE, c.backend("b").stateLoad());
        for (String w : List.of("t.cfg:4: 'option redis-check' is ignored in frontend 'f': it applies to backends",
                "t.cfg:5: 'tcp-check' is ignored in frontend 'f': it applies to backends",
                "t.cfg:6: 'load-server-state-from-file' is ignored in frontend 'f': it applies to backends",
                "t.cfg:7: 'server-state-file-name' is ignored in frontend 'f': it applies to backends")) {
            assertTrue(c.warnings().contains(w), () -> w + " not in " + c.warnings());
        }
    }

    @Test
    void badRulesAndOptionsAreReportedWithFileAndLine() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("tcp-check connect port 70000", "'tcp-check connect' expects a valid TCP port (from range 1 to 65535), got '70000'");
        cases.put("tcp-check connect port 0", "'tcp-check connect' expects a valid TCP port (from range 1 to 65535), got '0'");
        cases.put("tcp-check connect port", "'tcp-check connect' option 'port' expects a port number");
        cases.put("tcp-check connect port 1 port 2", "'tcp-check connect' option 'port' is given twice");
        cases.put("tcp-check connect foo", "'tcp-check connect' expects 'port' but got 'foo' as argument");
        cases.put("tcp-check connect ssl", "'tcp-check connect' option 'ssl' is not supported by forwarder");
        cases.put("tcp-check send", "'tcp-check send' expects a string to send");
        cases.put("tcp-check send a b", "'tcp-check send' takes one argument (escape spaces as '\\ '), got 'b' after it");
        cases.put("tcp-check send a comment c", "'tcp-check send' option 'comment' is not supported by forwarder");
        cases.put("tcp-check send-binary", "'tcp-check send-binary' expects a hexadecimal string to send");
        cases.put("tcp-check send-binary 0g", "'tcp-check send-binary' '0g' invalid binary string (an hex digit is expected (found 'g'))");
        cases.put("tcp-check send-binary abc", "'tcp-check send-binary' 'abc' invalid binary string (an even number of hex digit is expected)");
        cases.put("tcp-check expect rstring (", "'tcp-check expect' regex '(' is invalid (Unclosed group");
        cases.put("tcp-check expect foo bar", "'tcp-check expect' only supports '[!]string', '[!]rstring' and '[!]binary', got 'foo'");
        cases.put("tcp-check expect min-recv 4", "'tcp-check expect' 'min-recv' is not supported by forwarder");
        cases.put("tcp-check expect string", "'tcp-check expect' 'string' expects a <pattern> as argument");
        cases.put("tcp-check expect !", "'tcp-check expect' expects [!] string, rstring or binary and a pattern");
        cases.put("tcp-check expect binary 0g", "'tcp-check expect' '0g' invalid binary string");
        cases.put("tcp-check expect string x y", "'tcp-check expect' takes one pattern (escape spaces as '\\ '), got 'y' after it");
        cases.put("tcp-check expect string x on-success y", "'tcp-check expect' option 'on-success' is not supported by forwarder");
        cases.put("tcp-check send \u20ac", "'tcp-check send' '\u20ac' has a byte or character above 0x7F (U+20AC): write"
                + " non-ASCII data in hexadecimal with 'tcp-check send-binary' or 'tcp-check expect binary'");
        cases.put("tcp-check send \\xe9", "'tcp-check send' '\u00e9' has a byte or character above 0x7F (U+00E9)");
        cases.put("tcp-check expect string \u00e9", "'tcp-check expect' '\u00e9' has a byte or character above 0x7F (U+00E9)");
        cases.put("tcp-check foo", "'tcp-check' only supports 'connect', 'send', 'send-binary' and 'expect', got 'foo'");
        cases.put("tcp-check", "'tcp-check' only supports 'connect', 'send', 'send-binary' and 'expect'");
        cases.put("tcp-check comment x", "'tcp-check comment' is not supported by forwarder");
        cases.put("tcp-check set-var(check.x) int(1)", "'tcp-check set-var(check.x)' is not supported by forwarder");
        cases.put("option tcp-check x", "'option tcp-check' takes no argument, got 'x'");
        cases.put("option redis-check x", "'option redis-check' takes no argument, got 'x'");
        cases.put("no option tcp-check", "'no option tcp-check' cannot be negated (as in HAProxy)");
        cases.put("option pgsql-check", "'option pgsql-check' expects 'user <username>' as argument");
        cases.put("option pgsql-check user", "'option pgsql-check' expects 'user <username>' as argument");
        cases.put("option pgsql-check foo bar", "'option pgsql-check' expects 'user <username>' as argument");
        cases.put("option pgsql-check user a b", "'option pgsql-check' takes only 'user <username>', got 'b' after it");
        cases.put("option mysql-check", "'option mysql-check' without 'user <username>' is not supported by forwarder");
        cases.put("option mysql-check foo", "'option mysql-check' only supports 'user <username> [post-41]', got 'foo'");
        cases.put("option mysql-check user", "'option mysql-check' 'user' expects <username> as argument");
        cases.put("option mysql-check user a pre-41", "'option mysql-check' 'pre-41' is not supported by forwarder");
        cases.put("option mysql-check user a post-80", "'option mysql-check' 'user' only supports 'post-41' after the name, got 'post-80'");
        cases.put("load-server-state-from-file", "'load-server-state-from-file' expects 'global', 'local' or 'none', got ''");
        cases.put("load-server-state-from-file foo", "'load-server-state-from-file' expects 'global', 'local' or 'none', got 'foo'");
        cases.put("load-server-state-from-file local x", "'load-server-state-from-file' takes exactly one argument ('global', 'local' or 'none'), got 'x' after it");
        cases.put("server-state-file-name a b", "'server-state-file-name' takes at most one argument (a file name or 'use-backend-name'), got 'b' after it");
        cases.forEach((text, expected) -> {
            List<String> errors = errors("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 check\n " + text + "\n");
            assertEquals(1, errors.size(), () -> text + ": " + errors);
            assertTrue(errors.getFirst().startsWith("t.cfg:4: " + expected),
                    () -> text + ":\n  " + expected + "\nnot at the start of\n  " + errors.getFirst());
        });
    }

    @Test
    void aConnectRuleMustComeFirstWhenThereIsOne() {
        assertEquals(List.of("t.cfg:6: 'tcp-check connect' must also be the first step when there is a 'connect' step in the"
                        + " tcp-check ruleset (the first rule, at t.cfg:5, is not a connect)"),
                errors("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 check\n option tcp-check\n tcp-check send x\n tcp-check connect\n"));
    }

    @Test
    void serverStateKeywords() throws ConfigException {
        Config c = parse("""
                global
                 server-state-base /var/lib/forwarder
                 server-state-file state
                defaults
                 load-server-state-from-file local
                backend a
                 server s 127.0.0.1:2
                backend b
                 server-state-file-name /tmp/b.state
                 server s 127.0.0.1:2
                backend c
                 load-server-state-from-file global
                 server-state-file-name c-file
                 server-state-file-name use-backend-name
                 server s 127.0.0.1:2
                listen w
                 load-server-state-from-file none
                 bind 127.0.0.1:1
                 server s 127.0.0.1:2
                """);
        assertEquals(new ServerStateFile("/var/lib/forwarder", "state"), c.global().serverState());
        assertEquals("/var/lib/forwarder/state", c.global().serverState().path());
        assertEquals(new ServerStateLoad(ServerStateLoad.Mode.LOCAL, null), c.backend("a").stateLoad());
        assertEquals("/var/lib/forwarder/a", c.backend("a").stateLoad().localFile("a", c.global().serverState().base()));
        assertEquals(new ServerStateLoad(ServerStateLoad.Mode.LOCAL, "/tmp/b.state"), c.backend("b").stateLoad());
        assertEquals("/tmp/b.state", c.backend("b").stateLoad().localFile("b", "/var/lib/forwarder"));
        assertEquals(new ServerStateLoad(ServerStateLoad.Mode.GLOBAL, null), c.backend("c").stateLoad());
        assertEquals(ServerStateLoad.NONE, c.backend("w").stateLoad());
        assertEquals(ServerStateFile.NONE, parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n").global().serverState());
    }

    @Test
    void globalServerStateErrors() {
        assertEquals(List.of("t.cfg:2: 'server-state-file' expects one argument: a file path"),
                errors("global\n server-state-file\nlisten w\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
        assertEquals(List.of("t.cfg:2: 'server-state-file' takes exactly one argument (a file path), got 2"),
                errors("global\n server-state-file a b\nlisten w\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
        assertEquals(List.of("t.cfg:3: 'server-state-file' is already specified at t.cfg:2"),
                errors("global\n server-state-file /a\n server-state-file /b\nlisten w\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
        assertEquals(List.of("t.cfg:2: 'server-state-file' is only allowed in the 'global' section, not in 'listen'"),
                errors("listen w\n server-state-file /a\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
    }

    @Test
    void corpusFileAsHaproxyReadsIt() throws ConfigException {
        Config c = TestFiles.parseGood("tcp-check.cfg");
        assertEquals("/var/lib/forwarder/global.state", c.global().serverState().path());
        HealthCheck inherited = c.backend("redis_tcp").healthCheck();
        assertEquals(List.of(Action.CONNECT, Action.SEND, Action.EXPECT_STRING), inherited.rules().stream().map(TcpCheckRule::action).toList());
        assertEquals(2000, inherited.timeoutCheckMs());
        assertEquals(5, c.backend("redis_master").healthCheck().rules().size());
        assertEquals(7001, c.backend("binary").healthCheck().rules().getFirst().port());
        assertEquals(Kind.REDIS, c.backend("redis").healthCheck().kind());
        assertEquals("/var/lib/forwarder/redis.state", c.backend("redis").stateLoad().localFile("redis", c.global().serverState().base()));
        assertEquals("/var/lib/forwarder/pg", c.backend("pg").stateLoad().localFile("pg", c.global().serverState().base()));
        assertEquals(new HealthCheck(Kind.MYSQL, "haproxy", List.of(), 2000, false), c.backend("mysql").healthCheck());
        assertEquals(ServerStateLoad.NONE, c.backend("mysql").stateLoad());
        assertEquals(ServerStateLoad.Mode.GLOBAL, c.backend("binary").stateLoad().mode());
    }

    @Test
    void supportedKeywordsLeftTheNotSupportedLists() {
        for (String o : List.of("tcp-check", "redis-check", "pgsql-check", "mysql-check")) {
            assertFalse(Keywords.OPTION_UNSUPPORTED.contains(o), o);
        }
        for (String k : List.of("tcp-check", "load-server-state-from-file", "server-state-file-name")) {
            assertFalse(Keywords.PROXY_UNSUPPORTED.contains(k), k);
        }
        assertFalse(Keywords.globalUnsupported("server-state-file"));
        assertFalse(Keywords.globalUnsupported("server-state-base"));
    }
}
