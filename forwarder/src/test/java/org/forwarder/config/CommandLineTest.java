package org.forwarder.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {

    private static CommandLine cl(String... args) throws ConfigException {
        return CommandLine.parse(args);
    }

    private static Config quick(String... args) throws ConfigException {
        return cl(args).config();
    }

    private static String error(String... args) {
        return assertThrows(ConfigException.class, () -> CommandLine.parse(args)).getMessage();
    }

    @Test
    void configFile() throws ConfigException {
        Path seed = TestFiles.etc().resolve("examples/seed000.cfg");
        CommandLine c = cl("-f", seed.toString());
        assertEquals(CommandLine.Action.RUN, c.action());
        assertEquals(seed, c.configFile());
        assertEquals(10000, c.config().global().maxconn());
    }

    @Test
    void configFileErrorsSurfaceFromConfig() throws ConfigException {
        CommandLine c = cl("-f", "/nonexistent/forwarder.cfg");
        ConfigException e = assertThrows(ConfigException.class, c::config);
        assertTrue(e.getMessage().startsWith("/nonexistent/forwarder.cfg: cannot read"), e.getMessage());
    }

    @Test
    void checkHelpVersion() throws ConfigException {
        assertEquals(CommandLine.Action.CHECK, cl("-c", "-f", "x.cfg").action());
        assertEquals(CommandLine.Action.HELP, cl("-h").action());
        assertEquals(CommandLine.Action.HELP, cl("--help").action());
        assertEquals(CommandLine.Action.VERSION, cl("-v").action());
        assertEquals(CommandLine.Action.VERSION, cl("--version").action());
        assertEquals(CommandLine.Action.HELP, cl("-v", "-h", "-c", "-f", "x.cfg").action());
        assertNull(cl("-h").configFile());
        assertThrows(IllegalStateException.class, () -> cl("-h").config());
        assertFalse(CommandLine.version().isBlank());
    }

    @Test
    void quickModeMinimal() throws ConfigException {
        CommandLine c = cl("--listen", "127.0.0.1:8080", "--server", "127.0.0.1:8081");
        assertEquals(CommandLine.Action.RUN, c.action());
        assertNull(c.configFile());
        Config cfg = c.config();
        assertEquals(GlobalConfig.defaults(), cfg.global());
        FrontendConfig fe = cfg.frontend("quick");
        assertEquals("quick", fe.defaultBackend());
        assertEquals("127.0.0.1:8080", fe.binds().getFirst().address().toString());
        assertEquals(4096, fe.maxconn());
        BackendConfig be = cfg.backend("quick");
        assertEquals(List.of("s1"), be.servers().stream().map(ServerConfig::name).toList());
        assertEquals(new Timeouts(5000, 0, 0, 0, 0, 0, 0), Timeouts.effective(fe, be));
        assertEquals(Balance.ROUNDROBIN, be.balance());
        assertEquals(3, be.retries());
        assertEquals(SpliceOptions.NONE, SpliceOptions.effective(fe, be));
        assertEquals(List.of(
                "command line: proxy 'quick' has no 'timeout client': connections may stay open forever",
                "command line: proxy 'quick' has no 'timeout server': connections may stay open forever"), cfg.warnings());
    }

    @Test
    void quickModeEveryFlag() throws ConfigException {
        Config cfg = quick("-c", "--listen", "127.0.0.1:8080", "--listen=[::1]:8080",
                "--server", "127.0.0.1:9001", "--server=127.0.0.1:9002", "--server", "127.0.0.1:9003",
                "--balance", "leastconn", "--splice-request", "--splice-response", "--splice-auto",
                "--maxconn", "100", "--maxpipes=7", "--bufsize", "32k",
                "--timeout-connect", "2s", "--timeout-client=3m", "--timeout-server", "4h", "--timeout-tunnel", "1d",
                "--retries", "0");
        assertEquals(new GlobalConfig(100, 7, GlobalConfig.AUTO_NBTHREAD, 32768, 0, 2, 0, false), cfg.global());
        FrontendConfig fe = cfg.frontend("quick");
        assertEquals(List.of("127.0.0.1:8080", "[::1]:8080"),
                fe.binds().stream().map(b -> b.address().toString()).toList());
        assertEquals(100, fe.maxconn());
        BackendConfig be = cfg.backend("quick");
        assertEquals(List.of("s1", "s2", "s3"), be.servers().stream().map(ServerConfig::name).toList());
        assertEquals(9003, be.server("s3").address().port());
        assertEquals(Balance.LEASTCONN, be.balance());
        assertEquals(0, be.retries());
        assertEquals(new SpliceOptions(true, true, true), be.splice());
        assertEquals(new Timeouts(2000, 180_000, 14_400_000, 0, 86_400_000, 0, 0), Timeouts.effective(fe, be));
        assertEquals(List.of(), cfg.warnings());
        assertTrue(quick("--listen", ":1", "--server", "127.0.0.1:2", "--no-splice").global().noSplice());
        assertEquals(CommandLine.Action.CHECK, cl("-c", "--listen", ":1", "--server", "127.0.0.1:2").action());
    }

    @Test
    void quickModeDefaultMaxpipesFollowsMaxconn() throws ConfigException {
        assertEquals(25, quick("--listen", ":1", "--server", "127.0.0.1:2", "--maxconn", "100").global().maxpipes());
    }

    @Test
    void missingValues() {
        assertEquals("'--listen' needs a value: ADDR:PORT", error("--listen"));
        assertEquals("'--maxconn' needs a value: a number", error("--listen", ":1", "--server", "127.0.0.1:2", "--maxconn"));
        assertTrue(error("--server", "--listen", ":1").startsWith("'--server' needs a value"));
        assertEquals("'-f' needs a value: the configuration file", error("-f"));
        for (String flag : List.of("--balance", "--maxpipes", "--bufsize", "--timeout-connect", "--timeout-client",
                "--timeout-server", "--timeout-tunnel", "--retries", "--nbthread")) {
            assertTrue(error("--listen", ":1", "--server", "127.0.0.1:2", flag).startsWith("'" + flag + "' needs a value"), flag);
        }
    }

    @Test
    void badValuesNameTheFlag() {
        String[] base = {"--listen", ":1", "--server", "127.0.0.1:2"};
        assertEquals("'--maxconn' 'many' is not a valid number: expected a whole number, at least 1", error(with(base, "--maxconn", "many")));
        assertEquals("'--maxconn' '0' is out of range: expected at least 1", error(with(base, "--maxconn", "0")));
        assertEquals("'--maxpipes' '-3' is not a valid number: expected a whole number, at least 0", error(with(base, "--maxpipes=-3")));
        assertEquals("'--bufsize' '10' is out of range: expected 1024 to 16777216", error(with(base, "--bufsize", "10")));
        assertEquals("'--retries' 'x' is not a valid number: expected a whole number, at least 0", error(with(base, "--retries", "x")));
        assertEquals("'--balance' 'source' is not supported: use roundrobin or leastconn", error(with(base, "--balance", "source")));
        assertTrue(error(with(base, "--timeout-connect", "5x")).startsWith("'--timeout-connect' '5x' has an unknown time unit"));
        assertTrue(error(with(base, "--timeout-client", "abc")).startsWith("'--timeout-client' 'abc' is not a duration"));
        assertTrue(error(with(base, "--timeout-server", "99d")).startsWith("'--timeout-server' '99d' is too long"));
        assertTrue(error(with(base, "--timeout-tunnel", "1y")).startsWith("'--timeout-tunnel' '1y' has an unknown time unit"));
        assertEquals("'--listen' '300.0.0.1:80': '300.0.0.1' is not a valid IP address", error("--listen", "300.0.0.1:80", "--server", "127.0.0.1:2"));
        assertEquals("'--server' '127.0.0.1' has no port: expected host:port", error("--listen", ":1", "--server", "127.0.0.1"));
        assertEquals("'--listen' address 127.0.0.1:1 is given twice", error("--listen", "127.0.0.1:1", "--listen", "127.0.0.1:1", "--server", "127.0.0.1:2"));
        assertEquals("'--splice-auto' takes no value, got 'yes'", error(with(base, "--splice-auto=yes")));
        assertEquals("'--nbthread' '0' is out of range: expected 1 to 64", error(with(base, "--nbthread", "0")));
        assertEquals("'--nbthread' '65' is out of range: expected 1 to 64", error(with(base, "--nbthread=65")));
    }

    @Test
    void nbthreadFlagSetsTheLoopCount() throws ConfigException {
        assertEquals(2, quick("--listen", ":1", "--server", "127.0.0.1:2", "--nbthread", "2").global().loops());
        assertEquals(GlobalConfig.AUTO_NBTHREAD, quick("--listen", ":1", "--server", "127.0.0.1:2").global().nbthread());
        assertEquals(Math.min(64, Runtime.getRuntime().availableProcessors()),
                quick("--listen", ":1", "--server", "127.0.0.1:2").global().loops());
        assertEquals("'--nbthread' given twice ('2' and '3'): give it once",
                error("--listen", ":1", "--server", "127.0.0.1:2", "--nbthread", "2", "--nbthread", "3"));
        assertTrue(error("-f", "a.cfg", "--nbthread", "2").startsWith("'--nbthread' cannot be combined with -f"));
    }

    @Test
    void unknownAndUnexpectedArguments() {
        assertEquals("unknown option '--frobnicate' (see --help)", error("--frobnicate"));
        assertEquals("unknown option '--frobnicate' (see --help)", error("--frobnicate=3"));
        assertEquals("unknown option '-x' (see --help)", error("-x"));
        assertEquals("unexpected argument 'stray' (see --help)", error("-f", "a.cfg", "stray"));
    }

    @Test
    void mixingFileAndQuickModeIsAnError() {
        assertTrue(error("-f", "a.cfg", "--listen", ":1").startsWith("'--listen' cannot be combined with -f"));
        assertTrue(error("--server", "127.0.0.1:2", "-f", "a.cfg").startsWith("'--server' cannot be combined with -f"));
        assertTrue(error("-f", "a.cfg", "--maxconn", "5").startsWith("'--maxconn' cannot be combined with -f"));
        assertTrue(error("-f", "a.cfg", "-f", "b.cfg").startsWith("'-f' given twice"));
    }

    @Test
    void incompleteQuickMode() {
        assertEquals("no configuration: give -f FILE, or --listen ADDR:PORT and --server ADDR:PORT (see --help)", error());
        assertEquals("no configuration: give -f FILE, or --listen ADDR:PORT and --server ADDR:PORT (see --help)", error("-c"));
        assertEquals("'--server' is missing: quick mode needs at least one server", error("--listen", ":1"));
        assertEquals("'--listen' is missing: quick mode needs at least one address to listen on", error("--server", "127.0.0.1:1"));
    }

    @Test
    void allErrorsAreReported() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> CommandLine.parse(new String[] {"--maxconn", "x", "--bogus", "--listen", ":1", "--server", "127.0.0.1:2"}));
        assertEquals(List.of("'--maxconn' 'x' is not a valid number: expected a whole number, at least 1",
                "unknown option '--bogus' (see --help)"), e.errors());
    }

    /** A negative number after a flag is that flag's (bad) value: one error, not "needs a value" plus "unknown option". */
    @Test
    void negativeNumbersAreOneErrorNamingTheFlag() {
        String[] base = {"--listen", ":1", "--server", "127.0.0.1:2"};
        assertEquals(List.of("'--maxconn' '-1' is not a valid number: expected a whole number, at least 1"),
                errors(with(base, "--maxconn", "-1")));
        assertEquals(List.of("'--maxpipes' '-5' is not a valid number: expected a whole number, at least 0"),
                errors(with(base, "--maxpipes", "-5")));
        assertEquals(List.of("'--retries' '-1' is not a valid number: expected a whole number, at least 0"),
                errors(with(base, "--retries", "-1")));
        assertEquals(List.of("'--bufsize' '-16k' is not a valid size: expected a whole number of bytes, optionally followed by k, m or g"),
                errors(with(base, "--bufsize", "-16k")));
        for (String flag : List.of("--timeout-connect", "--timeout-client", "--timeout-server", "--timeout-tunnel")) {
            assertEquals(List.of("'" + flag + "' '-5s' is not a duration: expected a number with an optional unit (us, ms, s, m, h, d)"),
                    errors(with(base, flag, "-5s")), flag);
        }
        assertEquals(List.of("'--maxconn' '-1' is not a valid number: expected a whole number, at least 1"),
                errors(with(base, "--maxconn=-1")));
        // a number that is too large or malformed is one error too, with the same wording for every count flag
        assertEquals(List.of("'--retries' '99999999999' is too large: the maximum is 2147483647"),
                errors(with(base, "--retries", "99999999999")));
        assertEquals(List.of("'--maxconn' '1.5' is not a valid number: expected a whole number, at least 1"),
                errors(with(base, "--maxconn", "1.5")));
        assertEquals(List.of("'--maxconn' '' is not a valid number: expected a whole number, at least 1"),
                errors(with(base, "--maxconn=")));
        // a real flag after a value-taking flag still means the value was forgotten
        assertEquals(List.of("'--maxconn' needs a value: a number", "'--splice-auto' takes no value, got 'x'"),
                errors(with(base, "--maxconn", "--splice-auto=x")));
    }

    /** Single-valued flags given twice are an error naming the flag, whatever the values; --listen and --server repeat. */
    @Test
    void duplicateFlagsAreErrors() {
        String[] base = {"--listen", ":1", "--server", "127.0.0.1:2"};
        assertEquals(List.of("'--maxconn' given twice ('10' and '20'): give it once"),
                errors(with(base, "--maxconn", "10", "--maxconn", "20")));
        assertEquals(List.of("'--maxconn' given twice ('10' and '10'): give it once"),
                errors(with(base, "--maxconn=10", "--maxconn", "10")));
        assertEquals(List.of("'--balance' given twice ('roundrobin' and 'leastconn'): give it once"),
                errors(with(base, "--balance", "roundrobin", "--balance", "leastconn")));
        for (String flag : List.of("--maxpipes", "--retries")) {
            assertEquals(List.of("'" + flag + "' given twice ('1' and '2'): give it once"), errors(with(base, flag, "1", flag, "2")), flag);
        }
        assertEquals(List.of("'--bufsize' given twice ('16k' and '32k'): give it once"),
                errors(with(base, "--bufsize", "16k", "--bufsize", "32k")));
        for (String flag : List.of("--timeout-connect", "--timeout-client", "--timeout-server", "--timeout-tunnel")) {
            assertEquals(List.of("'" + flag + "' given twice ('1s' and '2s'): give it once"), errors(with(base, flag, "1s", flag, "2s")), flag);
        }
        for (String flag : List.of("--splice-request", "--splice-response", "--splice-auto", "--no-splice")) {
            assertEquals(List.of("'" + flag + "' given twice: give it once"), errors(with(base, flag, flag)), flag);
        }
        assertEquals(List.of("'-c' given twice: give it once"), errors(with(base, "-c", "-c")));
        assertEquals(List.of("'-h' given twice (first as '--help'): give it once"), errors("--help", "-h"));
        assertEquals(List.of("'--version' given twice: give it once"), errors("--version", "--version"));
        // the duplicate is reported once, not again as a bad value
        assertEquals(List.of("'--maxconn' given twice ('10' and 'x'): give it once"),
                errors(with(base, "--maxconn", "10", "--maxconn", "x")));
    }

    @Test
    void repeatableFlagsStayRepeatable() throws ConfigException {
        Config cfg = quick("--listen", "127.0.0.1:1", "--listen", "127.0.0.1:3", "--server", "127.0.0.1:2",
                "--server", "127.0.0.1:2", "--server", "127.0.0.1:4");
        assertEquals(2, cfg.frontend("quick").binds().size());
        assertEquals(List.of("s1", "s2", "s3"), cfg.backend("quick").servers().stream().map(ServerConfig::name).toList());
    }

    /**
     * --no-splice switches splicing off while --splice-* switch it on: on one command line that is a
     * contradiction, not a preference (in a file, global 'nosplice' over 'option splice-*' stays a warning, as in HAProxy).
     */
    @Test
    void contradictorySpliceFlagsAreAnError() {
        String[] base = {"--listen", ":1", "--server", "127.0.0.1:2"};
        for (String flag : List.of("--splice-request", "--splice-response", "--splice-auto")) {
            String expected = "'--no-splice' contradicts '" + flag + "': splicing cannot be both off and on, give one of them";
            assertEquals(List.of(expected), errors(with(base, "--no-splice", flag)), flag);
            assertEquals(List.of(expected), errors(with(base, flag, "--no-splice")), flag);
        }
        assertEquals(List.of("'--no-splice' contradicts '--splice-request': splicing cannot be both off and on, give one of them"),
                errors(with(base, "--splice-request", "--splice-response", "--no-splice")));
        assertEquals(List.of("'--no-splice' contradicts '--splice-auto': splicing cannot be both off and on, give one of them"),
                errors("--help", "--no-splice", "--splice-auto"));   // like a bad value, even with --help
    }

    /**
     * The JVM decoded a -f name lossily (U+FFFD for bytes its locale cannot decode): the raw bytes
     * of the arguments, when they match, open the file; without them, one line says what to do.
     * (MainProcessTest runs the real thing under LC_ALL=C.)
     */
    @Test
    void lossyFileNameUsesTheRawArgumentBytes(@TempDir Path dir) throws Exception {
        // made from bytes, so that the test does not depend on this JVM's own locale
        Files.writeString(Path.of(URI.create(dir.toUri() + "caf%C3%A9.cfg")), "listen a\n bind 127.0.0.1:1\n server s 127.0.0.1:2\n");
        byte[] raw = (dir + "/caf\u00e9.cfg").getBytes(StandardCharsets.UTF_8);
        String lossy = dir + "/caf\ufffd\ufffd.cfg";
        String[] args = {"-c", "-f", lossy};
        CommandLine c = CommandLine.parse(args, a -> new byte[][] {{'-', 'c'}, {'-', 'f'}, raw});
        assertEquals(dir + "/caf\u00e9.cfg", c.configName());
        assertEquals(1, c.config().frontends().size());

        List<String> e = assertThrows(ConfigException.class, () -> CommandLine.parse(args, a -> null)).errors();
        assertEquals(1, e.size(), e.toString());
        assertTrue(e.getFirst().startsWith("'-f' '" + lossy + "': this file name cannot be represented in the locale's encoding"
                + " (sun.jnu.encoding=" + System.getProperty("sun.jnu.encoding") + "): "), e.getFirst());
    }

    /** A -f value the platform cannot turn into a path is one error, never an InvalidPathException. */
    @Test
    void unusableFileNameIsOneError() {
        List<String> e = errors("-c", "-f", "a\u0000b.cfg");
        assertEquals(1, e.size(), e.toString());
        assertTrue(e.getFirst().startsWith("'-f' 'a\\x00b.cfg': not a valid file name"), e.getFirst());
    }

    @Test
    void usageListsEveryFlagAndTheLaunchLine() {
        String usage = CommandLine.usage();
        assertTrue(usage.contains("java --enable-native-access=ALL-UNNAMED -jar forwarder/target/forwarder.jar -f etc/forwarder.cfg"));
        for (String flag : List.of("-f FILE", "-c ", "-h, --help", "-v, --version", "--listen", "--server", "--balance",
                "--splice-request", "--splice-response", "--splice-auto", "--no-splice", "--maxconn", "--maxpipes",
                "--bufsize", "--timeout-connect", "--timeout-client", "--timeout-server", "--timeout-tunnel", "--retries")) {
            assertTrue(usage.contains("  " + flag), flag);
        }
    }

    private static List<String> errors(String... args) {
        return assertThrows(ConfigException.class, () -> CommandLine.parse(args).config()).errors();
    }

    private static String[] with(String[] base, String... more) {
        String[] all = new String[base.length + more.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }
}
