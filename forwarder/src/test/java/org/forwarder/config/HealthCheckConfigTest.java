package org.forwarder.config;

import org.forwarder.config.ServerCheck.OnError;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The health-check keywords (issue 10): server options, default-server, timeout check, option allbackups. */
class HealthCheckConfigTest {

    private static Config parse(String text) throws ConfigException {
        return ConfigParser.parse(text, "t.cfg");
    }

    private static ServerCheck check(Config c, String backend, String server) {
        return c.backend(backend).server(server).check();
    }

    /** The errors of {@code text}, which must fail. */
    private static List<String> errors(String text) {
        return assertThrows(ConfigException.class, () -> parse(text)).errors();
    }

    @Test
    void serverWithoutOptionsHasHaproxysDefaults() throws ConfigException {
        Config c = parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n");
        assertEquals(ServerCheck.NONE, check(c, "w", "s"));
        assertEquals(HealthCheck.DEFAULT, c.backend("w").healthCheck());
    }

    @Test
    void everyServerOptionIsParsed() throws ConfigException {
        Config c = parse("""
                listen w
                 bind 127.0.0.1:1
                 server s 127.0.0.1:2 check inter 5s fastinter 500ms downinter 1m rise 4 fall 7 port 9000 addr 127.0.0.9 \
                disabled backup weight 10 maxconn 20 slowstart 30s observe layer4 error-limit 5 on-error sudden-death \
                on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions
                """);
        ServerConfig s = c.backend("w").server("s");
        assertEquals(10, s.weight());
        assertEquals(20, s.maxconn());
        ServerCheck k = s.check();
        assertTrue(k.check());
        assertEquals(5000, k.interMs());
        assertEquals(500, k.fastinterMs());
        assertEquals(60_000, k.downinterMs());
        assertEquals(4, k.rise());
        assertEquals(7, k.fall());
        assertEquals(10, k.maxHealth());
        assertEquals(9000, k.port());
        assertEquals("127.0.0.9:0", k.addr().toString());
        assertTrue(k.disabled());
        assertTrue(k.backup());
        assertEquals(30_000, k.slowstartMs());
        assertTrue(k.observeLayer4());
        assertEquals(5, k.errorLimit());
        assertEquals(OnError.SUDDEN_DEATH, k.onError());
        assertTrue(k.shutdownSessionsOnDown());
        assertTrue(k.shutdownBackupSessionsOnUp());
    }

    @Test
    void fastinterAndDowninterFollowInterUnlessSet() throws ConfigException {
        Config c = parse("""
                listen w
                 bind 127.0.0.1:1
                 default-server fastinter 300ms
                 server a 127.0.0.1:2 check inter 7s
                 server b 127.0.0.1:3 check
                """);
        ServerCheck a = check(c, "w", "a");
        assertEquals(List.of(7000L, 300L, 7000L), List.of(a.interMs(), a.fastinterMs(), a.downinterMs()));
        ServerCheck b = check(c, "w", "b");
        assertEquals(List.of(2000L, 300L, 2000L), List.of(b.interMs(), b.fastinterMs(), b.downinterMs()));
    }

    @Test
    void onErrorAndObserveValues() throws ConfigException {
        for (OnError e : OnError.values()) {
            Config c = parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 check on-error " + e.keyword() + "\n");
            assertEquals(e, check(c, "w", "s").onError());
        }
        Config c = parse("listen w\n bind 127.0.0.1:1\n default-server observe layer4\n server s 127.0.0.1:2 observe none\n");
        assertFalse(check(c, "w", "s").observeLayer4());
        Config ipv6 = parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 addr ::1\n server t 127.0.0.1:3 addr [::1]\n");
        assertEquals(ipv6.backend("w").server("s").check().addr(), ipv6.backend("w").server("t").check().addr());
    }

    @Test
    void checkOptionsWithoutCheckAreAcceptedAsHaproxyDoes() throws ConfigException {
        Config c = parse("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 inter 5s rise 3\n");
        ServerCheck k = check(c, "w", "s");
        assertFalse(k.check());
        assertEquals(5000, k.interMs());
        assertEquals(3, k.rise());
    }

    @Test
    void defaultServerInDefaultsReachesLaterBackendsAndServersOverrideIt() throws ConfigException {
        Config c = parse("""
                defaults
                 default-server check inter 3s rise 5 weight 7
                backend early
                 server e 127.0.0.1:2
                defaults
                 default-server fall 9
                backend late
                 default-server inter 4s check
                 server l1 127.0.0.1:3 rise 1 no-check
                 default-server backup
                 server l2 127.0.0.1:4 weight 2
                listen w
                 bind 127.0.0.1:1
                 server s 127.0.0.1:5
                """);
        ServerCheck e = check(c, "early", "e");
        assertTrue(e.check());
        assertEquals(3000, e.interMs());
        assertEquals(5, e.rise());
        assertEquals(ServerCheck.DEFAULT_FALL, e.fall());
        assertEquals(7, c.backend("early").server("e").weight());
        // a new defaults section starts afresh (HAProxy resets them): rise is back to 2
        ServerCheck l1 = check(c, "late", "l1");
        assertFalse(l1.check());
        assertEquals(4000, l1.interMs());
        assertEquals(1, l1.rise());
        assertEquals(9, l1.fall());
        assertFalse(l1.backup(), "default-server lines apply only to the servers after them");
        ServerConfig l2 = c.backend("late").server("l2");
        assertTrue(l2.check().backup());
        assertTrue(l2.check().check());
        assertEquals(ServerCheck.DEFAULT_RISE, l2.check().rise());
        assertEquals(9, l2.check().fall());
        assertEquals(2, l2.weight());
        ServerCheck s = check(c, "w", "s");
        assertEquals(ServerCheck.DEFAULT_INTER_MS, s.interMs(), "a backend's default-server stays in that backend");
        assertFalse(s.backup());
        assertFalse(s.check());
        assertEquals(9, s.fall(), "the defaults in effect reach every proxy after them");
    }

    @Test
    void timeoutCheckAndAllbackups() throws ConfigException {
        Config c = parse("""
                defaults
                 timeout check 1500ms
                 option allbackups
                backend a
                 server s 127.0.0.1:2
                backend b
                 timeout check 3s
                 no option allbackups
                 server s 127.0.0.1:2
                frontend f
                 bind 127.0.0.1:1
                 default_backend a
                 timeout check 9s
                 option allbackups
                """);
        assertEquals(new HealthCheck(HealthCheck.Kind.CONNECT, null, List.of(), 1500, true), c.backend("a").healthCheck());
        assertEquals(new HealthCheck(HealthCheck.Kind.CONNECT, null, List.of(), 3000, false), c.backend("b").healthCheck());
        assertTrue(c.warnings().contains("t.cfg:13: 'timeout check' is ignored in frontend 'f': it applies to backends"
                + " (set it in the backend or in defaults)"), c.warnings().toString());
        assertTrue(c.warnings().contains("t.cfg:14: 'option allbackups' is ignored in frontend 'f': it applies to backends"),
                c.warnings().toString());
    }

    @Test
    void badValuesAreReportedInHaproxysWords() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("check rise 0", "'server' option 'rise': has to be > 0, got '0'");
        cases.put("check fall -1", "'server' option 'fall': has to be > 0, got '-1'");
        cases.put("check error-limit 0", "'server' option 'error-limit': has to be > 0, got '0'");
        cases.put("check rise 1x", "'server' option 'rise': '1x' is not a valid number");
        cases.put("check inter abc", "'server' option 'inter': 'abc' is not a duration");
        cases.put("check inter 0", "'server' option 'inter': invalid value '0': the interval must be at least 1ms");
        cases.put("check fastinter 0s", "'server' option 'fastinter': invalid value '0s'");
        cases.put("check downinter 5x", "'server' option 'downinter': '5x' has an unknown time unit 'x'");
        cases.put("check slowstart 1000000d", "'server' option 'slowstart': '1000000d' is too long");
        cases.put("check port 70000", "'server' option 'port': '70000' is out of range: expected 0 to 65535");
        cases.put("check addr foo", "'server' option 'addr': invalid address 'foo'");
        cases.put("check addr 127.0.0.2:80", "'server' option 'addr': invalid address '127.0.0.2:80'");
        cases.put("check on-error foo", "'server' option 'on-error': expects one of 'fastinter', 'fail-check',"
                + " 'sudden-death' or 'mark-down' but got 'foo'");
        cases.put("check observe foo", "'server' option 'observe': expects one of 'none', 'layer4', 'layer7' but got 'foo'");
        cases.put("check observe layer7", "'server' option 'observe': 'layer7' is not supported by forwarder");
        cases.put("check on-marked-down foo", "'server' option 'on-marked-down': expects 'shutdown-sessions' but got 'foo'");
        cases.put("check on-marked-up foo", "'server' option 'on-marked-up': expects 'shutdown-backup-sessions' but got 'foo'");
        cases.put("check inter", "'server' option 'inter' expects a delay as argument");
        cases.put("check rise", "'server' option 'rise' expects an integer argument");
        cases.put("check port", "'server' option 'port' expects a port number as argument");
        cases.put("check rise 2 rise 3", "'server' option 'rise' is given twice");
        cases.put("check check", "'server' option 'check' is given twice");
        cases.put("disabled enabled", "'server' options 'disabled' and 'enabled' contradict each other");
        cases.put("check no-check", "'server' options 'check' and 'no-check' contradict each other");
        cases.put("check agent-check", "'server' option 'agent-check' is not supported by forwarder");
        cases.put("check bogus", "'server' unknown option 'bogus' (supported: weight, maxconn, check, inter");
        cases.forEach((options, expected) -> {
            List<String> errors = errors("listen w\n bind 127.0.0.1:1\n server s 127.0.0.1:2 " + options + "\n");
            assertEquals(1, errors.size(), () -> options + ": " + errors);
            assertTrue(errors.getFirst().startsWith("t.cfg:3: " + expected), () -> options + ":\n  " + expected + "\nnot at the start of\n  " + errors.getFirst());
        });
    }

    @Test
    void defaultServerErrors() {
        assertEquals(List.of("t.cfg:2: 'default-server' is only allowed in 'defaults', 'backend' and 'listen' sections, not in 'frontend'"),
                errors("frontend f\n default-server inter 3s\n bind 127.0.0.1:1\n default_backend b\nbackend b\n server s 127.0.0.1:2\n"));
        List<String> e = errors("listen w\n bind 127.0.0.1:1\n default-server s 127.0.0.1:2\n server s 127.0.0.1:2\n");
        assertEquals(1, e.size(), e.toString());
        assertTrue(e.getFirst().startsWith("t.cfg:3: 'default-server' unknown option 's'"), e.getFirst());
        assertEquals(List.of("t.cfg:3: 'default-server' option 'rise': has to be > 0, got '0'"),
                errors("listen w\n bind 127.0.0.1:1\n default-server rise 0\n server s 127.0.0.1:2\n"));
    }

    @Test
    void badDefaultServerLineIsOneErrorAndTheServersAfterItAddNone() {
        // the servers after a bad default-server line are not blamed for it
        assertEquals(List.of("t.cfg:3: 'default-server' option 'fall': has to be > 0, got '0'"),
                errors("listen w\n bind 127.0.0.1:1\n default-server rise 4 fall 0\n server s 127.0.0.1:2\n server t 127.0.0.1:3\n"));
    }

    @Test
    void timeoutCheckErrors() {
        assertEquals(List.of("t.cfg:2: 'timeout check' 'abc' is not a duration: expected a number with an optional unit (us, ms, s, m, h, d)"),
                errors("listen w\n timeout check abc\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
        assertEquals(List.of("t.cfg:2: 'timeout check' expects a duration such as 5s (units: us, ms, s, m, h, d)"),
                errors("listen w\n timeout check\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
        assertEquals(List.of("t.cfg:2: 'option allbackups' takes no argument, got 'x'"),
                errors("listen w\n option allbackups x\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n"));
    }

    @Test
    void supportedKeywordsLeftTheNotSupportedLists() {
        for (String kw : List.of("check", "inter", "fastinter", "downinter", "rise", "fall", "port", "addr", "disabled",
                "enabled", "backup", "slowstart", "observe", "error-limit", "on-error", "on-marked-down", "on-marked-up")) {
            assertFalse(Keywords.SERVER_OPTION_UNSUPPORTED.contains(kw), kw);
        }
        assertFalse(Keywords.PROXY_UNSUPPORTED.contains("default-server"));
        assertFalse(Keywords.TIMEOUT_UNSUPPORTED.contains("check"));
        assertFalse(Keywords.OPTION_UNSUPPORTED.contains("allbackups"));
    }
}
