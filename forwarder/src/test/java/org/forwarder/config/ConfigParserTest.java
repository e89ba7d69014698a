package org.forwarder.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigParserTest {

    /** The seed configuration, exactly as given (indented, with a trailing newline). */
    private static final String SEED = """
              global
                  maxpipes 50000
                  maxconn 10000

              listen srv1
                  option splice-request
                  option splice-response
                  bind :8001
                  server s1 127.0.0.1:8002
            """;

    @Test
    void seedParsesVerbatim() throws ConfigException {
        Config c = ConfigParser.parse(SEED, "seed.cfg");
        assertEquals(10000, c.global().maxconn());
        assertEquals(50000, c.global().maxpipes());
        assertEquals(1, c.frontends().size());
        FrontendConfig fe = c.frontends().getFirst();
        assertEquals("srv1", fe.name());
        assertEquals("seed.cfg:5", fe.where());
        assertEquals("srv1", fe.defaultBackend());
        assertEquals(10000, fe.maxconn());
        assertEquals("0.0.0.0:8001", fe.binds().getFirst().address().toString());
        assertEquals("seed.cfg:8", fe.binds().getFirst().where());
        assertEquals(new SpliceOptions(true, true, false), fe.splice());
        BackendConfig be = c.backendOf(fe);
        assertEquals("srv1", be.name());
        assertEquals(Balance.ROUNDROBIN, be.balance());
        assertEquals(3, be.retries());
        ServerConfig s1 = be.servers().getFirst();
        assertEquals("s1", s1.name());
        assertEquals("127.0.0.1:8002", s1.address().toString());
        assertEquals(1, s1.weight());
        assertEquals(0, s1.maxconn());
        assertEquals("seed.cfg:9", s1.where());
        assertEquals(new SpliceOptions(true, true, false), be.splice());
        assertEquals(List.of(
                "seed.cfg:5: proxy 'srv1' has no 'timeout connect': a connection attempt to an unreachable server may hang until the kernel gives up",
                "seed.cfg:5: proxy 'srv1' has no 'timeout client': connections may stay open forever",
                "seed.cfg:5: proxy 'srv1' has no 'timeout server': connections may stay open forever"), c.warnings());
    }

    @Test
    void seedExampleFileMatchesTheSeed() throws Exception {
        assertEquals(SEED, Files.readString(TestFiles.etc().resolve("examples/seed000.cfg")));
    }

    @Test
    void defaultsWhenAbsent() throws ConfigException {
        Config c = ConfigParser.parse("listen a\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n", "t.cfg");
        assertEquals(GlobalConfig.defaults(), c.global());
        assertEquals(4096, c.global().maxconn());
        assertEquals(1024, c.global().maxpipes());
        assertEquals(16384, c.global().bufsize());
        assertEquals(2, c.global().buffersReserve());
        FrontendConfig fe = c.frontend("a");
        assertEquals(4096, fe.maxconn());
        assertEquals(Timeouts.NONE, fe.timeouts());
        assertEquals(SpliceOptions.NONE, fe.splice());
        assertEquals(3, c.backend("a").retries());
        assertEquals(Balance.ROUNDROBIN, c.backend("a").balance());
    }

    @Test
    void maxpipesDefaultsToAQuarterOfMaxconn() throws ConfigException {
        Config c = ConfigParser.parse("global\n maxconn 1000\nlisten a\n bind :1\n server s 127.0.0.1:2\n", "t.cfg");
        assertEquals(250, c.global().maxpipes());
    }

    @Test
    void nbthreadIsOneLoopPerUsableCpuUnlessSet() throws ConfigException {
        Config auto = ConfigParser.parse("listen a\n bind :1\n server s 127.0.0.1:2\n", "t.cfg");
        assertEquals(GlobalConfig.AUTO_NBTHREAD, auto.global().nbthread());
        assertEquals(Math.min(64, Runtime.getRuntime().availableProcessors()), auto.global().loops());
        Config two = ConfigParser.parse("global\n nbthread 2\nlisten a\n bind :1\n server s 127.0.0.1:2\n", "t.cfg");
        assertEquals(2, two.global().loops());
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("global\n nbthread 65\n nbthread 0\n nbthread\nlisten a\n bind :1\n server s 127.0.0.1:2\n", "t.cfg"));
        assertEquals(List.of("t.cfg:2: 'nbthread' '65' is out of range: expected 1 to 64",
                "t.cfg:3: 'nbthread' '0' is out of range: expected 1 to 64",
                "t.cfg:4: 'nbthread' expects a number of event loops from 1 to 64"), e.errors());
    }

    @Test
    void poolLimitsSplitOverLoopsMustLeaveEachLoopMoreThanTheReserve() throws ConfigException {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse("""
                global
                    nbthread 3
                    tune.buffers.limit 8
                    tune.buffers.reserve 2
                listen a
                    bind :1
                    server s 127.0.0.1:2
                """, "t.cfg"));
        assertEquals(List.of("t.cfg:3: 'tune.buffers.limit' 8 buffers split over 3 event loops (nbthread 3 (line 2)) leave "
                + "each 2, not more than tune.buffers.reserve (2): give at least 9, or fewer loops"), e.errors());
        Config ok = ConfigParser.parse("global\n nbthread 3\n tune.buffers.limit 9\n tune.buffers.reserve 2\n"
                + "listen a\n bind :1\n server s 127.0.0.1:2\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n", "t.cfg");
        assertEquals(9, ok.global().buffersLimit());
        Config few = ConfigParser.parse("global\n nbthread 4\n maxpipes 3\n"
                + "listen a\n bind :1\n server s 127.0.0.1:2\n timeout client 1s\n timeout server 1s\n timeout connect 1s\n", "t.cfg");
        assertEquals(List.of("t.cfg:3: maxpipes 3 split over 4 event loops (nbthread 4 (line 2)) leaves 1 of them without "
                + "pipes: their streams copy instead of splicing"), few.warnings());
    }

    @Test
    void timeUnits() throws ConfigException {
        Timeouts t = TestFiles.parseGood("timeouts-units.cfg").frontend("web").timeouts();
        assertEquals(250, t.connectMs());
        assertEquals(90_000, t.clientMs());
        assertEquals(120_000, t.serverMs());
        assertEquals(1_500, t.queueMs());
        assertEquals(3_600_000, t.tunnelMs());
        assertEquals(86_400_000, t.clientFinMs());
        assertEquals(2, t.serverFinMs(), "1500us rounds up to whole milliseconds");
    }

    @Test
    void quotesEscapesAndVariables() throws ConfigException {
        Config c = TestFiles.parseGood("quotes.cfg");
        FrontendConfig fe = c.frontend("quoted");
        assertNotNull(fe);
        assertEquals("127.0.0.1:8080", fe.binds().getFirst().address().toString());
        assertEquals(10_000, fe.timeouts().clientMs(), "\"1\"'0's reads as 10s");
        BackendConfig be = c.backend("quoted");
        assertEquals(5, be.server("s1").weight());
        assertEquals(7, be.server("s2").weight());
        assertEquals("127.0.0.1:8083", be.server("s3").address().toString());
    }

    @Test
    void defaultsApplyToLaterProxiesAndAreReplacedByTheNextDefaults() throws ConfigException {
        Config c = TestFiles.parseGood("defaults-inheritance.cfg");
        FrontendConfig first = c.frontend("first");
        BackendConfig firstBe = c.backend("first");
        assertEquals(new Timeouts(5000, 60000, 60000, 0, 0, 0, 0), first.timeouts());
        assertEquals(300, first.maxconn());
        assertEquals(5, firstBe.retries());
        assertEquals(Balance.LEASTCONN, firstBe.balance());
        assertEquals(new SpliceOptions(true, false, false), first.splice());

        FrontendConfig second = c.frontend("second");
        assertEquals(10_000, second.timeouts().clientMs());
        assertEquals(5_000, second.timeouts().connectMs());
        assertEquals(1, c.backend("second").retries());
        assertEquals(SpliceOptions.NONE, second.splice(), "'no option' clears an inherited option");

        FrontendConfig third = c.frontend("third");
        assertEquals(new Timeouts(1000, 2000, 3000, 0, 0, 0, 0), third.timeouts());
        assertEquals(4096, third.maxconn(), "the new defaults section sets no maxconn");
        assertEquals(3, c.backend("third").retries());
        assertEquals(Balance.ROUNDROBIN, c.backend("third").balance());
        assertEquals(SpliceOptions.NONE, third.splice());
        assertEquals(List.of(), c.warnings());
    }

    @Test
    void namedDefaultsWithFrom() throws ConfigException {
        Config c = TestFiles.parseGood("named-defaults.cfg");
        assertEquals(1_000, c.frontend("web").timeouts().connectMs());
        assertEquals(10_000, c.frontend("batch").timeouts().connectMs(), "without 'from', the last defaults applies");
    }

    @Test
    void listenYieldsFrontendAndBackendAndFrontendsShareBackends() throws ConfigException {
        Config c = TestFiles.parseGood("listen-and-frontends.cfg");
        assertEquals(List.of("both", "fe1", "fe2"), c.frontends().stream().map(FrontendConfig::name).toList());
        assertEquals(List.of("both", "shared"), List.copyOf(c.backends().keySet()));

        assertEquals("both", c.frontend("both").defaultBackend(), "a listen serves its own servers");
        FrontendConfig fe1 = c.frontend("fe1");
        assertEquals("shared", fe1.defaultBackend(), "inherited from defaults");
        assertEquals(50, fe1.maxconn());
        assertEquals(List.of("127.0.0.1:7100", "127.0.0.1:7101", "[::1]:7102"),
                fe1.binds().stream().map(b -> b.address().toString()).toList());
        FrontendConfig fe2 = c.frontend("fe2");
        assertEquals("both", fe2.defaultBackend());
        assertEquals(1000, fe2.maxconn());
        assertEquals(List.of(7200, 7201, 7202, 7203), fe2.binds().stream().map(b -> b.address().port()).toList());

        BackendConfig shared = c.backend("shared");
        assertEquals(0, shared.server("a").weight());
        assertEquals(256, shared.server("b").weight());
        assertEquals(10, shared.server("b").maxconn());
    }

    @Test
    void spliceOptionsOfFrontendAndBackendAreOred() throws ConfigException {
        Config c = TestFiles.parseGood("splice-or.cfg");
        FrontendConfig fe = c.frontend("fe");
        BackendConfig be = c.backendOf(fe);
        assertEquals(new SpliceOptions(true, false, false), fe.splice());
        assertEquals(new SpliceOptions(false, true, true), be.splice());
        assertEquals(new SpliceOptions(true, true, true), SpliceOptions.effective(fe, be));
        assertEquals(new SpliceOptions(true, true, true), fe.splice().or(be.splice()));
    }

    @Test
    void globalTuning() throws ConfigException {
        Config c = TestFiles.parseGood("global-tune.cfg");
        assertEquals(new GlobalConfig(2000, 500, 1, 65536, 100, 10, 1 << 20, true), c.global());
        assertEquals(List.of(), c.warnings());
    }

    @Test
    void crlfLineEndings() throws ConfigException {
        Config c = TestFiles.parseGood("crlf.cfg");
        assertEquals(123, c.global().maxconn());
        assertEquals("127.0.0.1:8081", c.backend("web").server("s1").address().toString());
    }

    @Test
    void effectiveTimeoutsTakeEachFromItsSide() {
        Timeouts feSide = new Timeouts(1, 2, 3, 4, 5, 6, 7);
        Timeouts beSide = new Timeouts(10, 20, 30, 40, 50, 60, 70);
        FrontendConfig fe = new FrontendConfig("f", "x:1", List.of(), "b", 1, feSide, SpliceOptions.NONE);
        BackendConfig be = new BackendConfig("b", "x:2", Balance.ROUNDROBIN, List.of(), beSide, 3, SpliceOptions.NONE, 0);
        assertEquals(new Timeouts(10, 2, 30, 40, 50, 6, 70), Timeouts.effective(fe, be));
    }

    @Test
    void timeoutsOnTheWrongSideAreWarnedAbout() throws ConfigException {
        Config c = ConfigParser.parse("""
                defaults
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                frontend fe
                    bind :1
                    timeout server 5s
                    default_backend be
                backend be
                    timeout client-fin 5s
                    server s 127.0.0.1:2
                """, "side.cfg");
        assertEquals(List.of(
                "side.cfg:7: 'timeout server' is ignored in frontend 'fe': it applies to backends (set it in the backend or in defaults)",
                "side.cfg:10: 'timeout client-fin' is ignored in backend 'be': it applies to frontends (set it in the frontend or in defaults)"),
                c.warnings());
    }

    @Test
    void missingTimeoutsAreWarnedPerSide() throws ConfigException {
        Config c = ConfigParser.parse("""
                frontend fe
                    bind :1
                    default_backend be
                backend be
                    timeout connect 1s
                    server s 127.0.0.1:2
                """, "w.cfg");
        assertEquals(List.of(
                "w.cfg:1: proxy 'fe' has no 'timeout client': connections may stay open forever",
                "w.cfg:4: proxy 'be' has no 'timeout server': connections may stay open forever"), c.warnings());
    }

    @Test
    void allErrorsAreReportedNotJustTheFirst() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse("""
                global
                    maxconn x
                    bogus
                listen web
                    bind :8080
                    mode http
                    server s1 127.0.0.1:8081
                """, "multi.cfg"));
        assertEquals(List.of(
                "multi.cfg:2: 'maxconn' 'x' is not a valid number: expected a whole number, at least 1",
                "multi.cfg:3: unknown keyword 'bogus' in section 'global'",
                "multi.cfg:6: 'mode' 'http' is not supported: forwarder only supports 'mode tcp' (and 'mode http' only in a"
                        + " 'frontend' serving the Prometheus exporter, not in 'listen')"), e.errors());
        assertEquals(String.join("\n", e.errors()), e.getMessage());
    }

    @Test
    void knownHaproxyKeywordsAreNotSupportedRatherThanUnknown() {
        Map<String, String> cases = Map.of(
                "global\n    log-send-hostname\n", "t.cfg:2: 'log-send-hostname' is not supported by forwarder",
                "global\n    daemon\n", "t.cfg:2: 'daemon' is not supported by forwarder",
                "global\n    user haproxy\n", "t.cfg:2: 'user' is not supported by forwarder",
                "global\n    chroot /var/empty\n", "t.cfg:2: 'chroot' is not supported by forwarder",
                "global\n    pidfile /run/f.pid\n", "t.cfg:2: 'pidfile' is not supported by forwarder",
                "global\n    tune.maxaccept 10\n", "t.cfg:2: 'tune.maxaccept' is not supported by forwarder",
                "listen w\n    stats enable\n", "t.cfg:2: 'stats' is not supported by forwarder",
                "listen w\n    option httplog\n", "t.cfg:2: 'option httplog' is not supported by forwarder",
                "listen w\n    option logasap\n", "t.cfg:2: 'option logasap' is not supported by forwarder",
                "listen w\n    option bogus\n", "t.cfg:2: 'option bogus' is an unknown option");
        cases.forEach((text, expected) -> {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(text, "t.cfg"));
            assertTrue(e.getMessage().contains(expected), () -> expected + " not in:\n" + e.getMessage());
        });
    }

    @Test
    void unknownKeywordsNameTheirSection() {
        for (String section : List.of("global", "defaults", "frontend f", "backend b", "listen l")) {
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(section + "\n  foo 1\n", "t.cfg"));
            String kind = section.split(" ")[0];
            assertTrue(e.getMessage().contains("t.cfg:2: unknown keyword 'foo' in section '" + kind + "'"), e.getMessage());
        }
    }

    @Test
    void rejectedOptionLineChangesNothing() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen w\n bind :1\n option splice-auto now\n server s 127.0.0.1:2\n", "t.cfg"));
        assertEquals(List.of("t.cfg:3: 'option splice-auto' takes no argument, got 'now'"), e.errors());
    }

    @Test
    void brokenServerLineDoesNotAlsoReportAMissingServer() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse("listen w\n bind :1\n server s1 127.0.0.1:2 send-proxy\n", "one.cfg"));
        assertEquals(1, e.errors().size(), e.getMessage());
    }

    @Test
    void unusedBackendWithoutServersIsAllowed() throws ConfigException {
        Config c = ConfigParser.parse("listen w\n bind :1\n server s 127.0.0.1:2\nbackend spare\n", "u.cfg");
        assertTrue(c.backend("spare").servers().isEmpty());
    }

    @Test
    void frontendAndBackendMayShareAName() throws ConfigException {
        Config c = ConfigParser.parse("frontend web\n bind :1\n default_backend web\nbackend web\n server s 127.0.0.1:2\n", "s.cfg");
        assertEquals("web", c.frontend("web").defaultBackend());
    }

    @Test
    void environmentVariablesExpandOnlyInDoubleQuotes() throws ConfigException {
        String text = "listen w\n bind \"${BIND}\"\n server s '$X' \n";
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigParser.parse(text, "env.cfg", name -> name.equals("BIND") ? "127.0.0.1:9" : "127.0.0.1:10"));
        assertTrue(e.getMessage().contains("env.cfg:3: 'server' '$X' has no port"), e.getMessage());
        Config c = ConfigParser.parse("listen w\n bind \"${BIND}\"\n server s \"$SRV\"\n", "env.cfg",
                name -> name.equals("BIND") ? "127.0.0.1:9" : "127.0.0.1:10");
        assertEquals(9, c.frontend("w").binds().getFirst().address().port());
        assertEquals(10, c.backend("w").server("s").address().port());
    }

    @Test
    void missingFileNamesThePath(@TempDir Path dir) {
        Path missing = dir.resolve("nope.cfg");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(missing));
        assertEquals(missing + ": cannot read configuration file: no such file", e.getMessage());
    }

    @Test
    void unreadableFileNamesThePath(@TempDir Path dir) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(dir));
        assertTrue(e.getMessage().startsWith(dir + ": cannot read configuration file"), e.getMessage());
    }

    @Test
    void fileErrorsNameThePathAsGiven(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("x.cfg");
        Files.writeString(f, "listen w\n bind :1\n mode http\n server s 127.0.0.1:2\n");
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(f));
        assertTrue(e.getMessage().startsWith(f + ":3: 'mode'"), e.getMessage());
    }

    @Test
    void defaultEtcConfig() throws ConfigException {
        Config c = ConfigParser.parse(TestFiles.etc().resolve("forwarder.cfg"));
        assertEquals(4096, c.global().maxconn());
        FrontendConfig fe = c.frontends().getFirst();
        assertEquals("127.0.0.1:8080", fe.binds().getFirst().address().toString());
        BackendConfig be = c.backendOf(fe);
        assertEquals("127.0.0.1:8081", be.servers().getFirst().address().toString());
        assertEquals(new Timeouts(5000, 60000, 60000, 0, 0, 0, 0), Timeouts.effective(fe, be));
        assertEquals(SpliceOptions.NONE, SpliceOptions.effective(fe, be));
        assertEquals(List.of(), c.warnings());
    }

    @Test
    void etcExamplesParse() throws Exception {
        Path examples = TestFiles.etc().resolve("examples");
        for (String name : List.of("seed000.cfg", "two-servers-leastconn.cfg", "frontend-backend.cfg")) {
            ConfigParser.parse(examples.resolve(name));
        }
        Config lc = ConfigParser.parse(examples.resolve("two-servers-leastconn.cfg"));
        assertEquals(Balance.LEASTCONN, lc.backend("db").balance());
        assertEquals(2, lc.backend("db").server("db2").weight());
        Config fb = ConfigParser.parse(examples.resolve("frontend-backend.cfg"));
        assertEquals(List.of("public", "internal"), fb.frontends().stream().map(FrontendConfig::name).toList());
        assertEquals(600_000, fb.frontend("internal").timeouts().clientMs());
        assertEquals(32768, fb.global().bufsize());
        try (var files = Files.list(examples)) {
            for (Path p : files.filter(p -> p.toString().endsWith(".cfg")).toList()) {
                ConfigParser.parse(p);   // any example added later must parse too
            }
        }
    }

    /** A port range bound twice is one error for the line, not one per port. */
    @Test
    void repeatedPortRangeIsOneErrorPerLine() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(
                "listen a\n bind 127.0.0.1:1-100\n bind 127.0.0.1:50-60,127.0.0.1:1\n server s 127.0.0.1:200\n", "t.cfg"));
        assertEquals(List.of("t.cfg:3: 'bind' address 127.0.0.1:50 is already bound at t.cfg:2"
                + " (and 11 more of this line's addresses are bound twice)"), e.errors());
    }

    /** Errors quote words as written, but control and bidi-format characters show escaped: one line, no terminal tricks. */
    @Test
    void controlCharactersInErrorsAreEscaped() {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(
                "listen a\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n \u0085frob\n mode \"h\\x1b[2Jttp\u202e\"\n", "t.cfg"));
        assertEquals(List.of("t.cfg:4: unknown keyword '\\x85frob' in section 'listen'",
                "t.cfg:5: 'mode' 'h\\x1b[2Jttp\\u202e' is not supported: forwarder only supports 'mode tcp'"), e.errors());
    }
}
