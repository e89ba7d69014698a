package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded mutations of valid quick-mode command lines, parsed as Main does. Whatever the arguments,
 * the outcome is a Config or a ConfigException; each error is one line that quotes an argument as
 * given (or says what the whole command line lacks), and there are no more errors than arguments.
 * Accepted command lines give no single-valued flag twice and do not contradict themselves; a
 * negative number after a flag is reported as that flag's value, never as an unknown option.
 * A failure prints the seed and the arguments; rerun with {@code -Dforwarder.fuzz.seed=N}.
 */
class CommandLineFuzzTest {

    private static final long SEED = Long.getLong("forwarder.fuzz.seed", 20261122L);
    private static final int CASES = Integer.getInteger("forwarder.fuzz.cases", 600);

    private static final List<List<String>> VALID = List.of(
            List.of("--listen", "127.0.0.1:8080", "--server", "127.0.0.1:8081"),
            List.of("-c", "--listen", "127.0.0.1:8080", "--listen=[::1]:8080", "--server", "127.0.0.1:9001",
                    "--server=127.0.0.1:9002", "--balance", "leastconn", "--splice-request", "--splice-response",
                    "--splice-auto", "--maxconn", "100", "--maxpipes=7", "--bufsize", "32k", "--timeout-connect", "2s",
                    "--timeout-client=3m", "--timeout-server", "4h", "--timeout-tunnel", "1d", "--retries", "0"),
            List.of("--listen", ":9000", "--server", "127.0.0.1:9001", "--no-splice", "--retries", "2"));

    private static final String[] JUNK = {"-1", "", "=", "99999999999999", "0", "1.5", "é", "--", "-", "-x", ":", "[::1]",
            "abc", "1e3", "\ufffd", " 5", "5 ", "0x10", "-5s", "1-65535", ":1-65535", "127.0.0.1:0", "unix@/x", "--listen",
            "-f", "-c", "-h", "--maxconn=-1", "--bogus", "--server=", "leastconn", "source", "16m", "17m", "24d", "25d"};
    private static final String[] FLAGS = {"--listen", "--server", "--balance", "--maxconn", "--maxpipes", "--bufsize",
            "--timeout-connect", "--timeout-client", "--timeout-server", "--timeout-tunnel", "--retries", "--splice-request",
            "--splice-response", "--splice-auto", "--no-splice", "-c", "-h", "-v", "--help", "--version", "-f"};

    /** The flags that may be given once, with their other spellings. */
    private static final List<List<String>> SINGLE = List.of(List.of("--balance"), List.of("--maxconn"), List.of("--maxpipes"),
            List.of("--bufsize"), List.of("--timeout-connect"), List.of("--timeout-client"), List.of("--timeout-server"),
            List.of("--timeout-tunnel"), List.of("--retries"), List.of("--splice-request"), List.of("--splice-response"),
            List.of("--splice-auto"), List.of("--no-splice"), List.of("-c"), List.of("-h", "--help"), List.of("-v", "--version"),
            List.of("-f"));
    private static final List<String> VALUE_FLAGS = List.of("--listen", "--server", "--balance", "--maxconn", "--maxpipes",
            "--bufsize", "--timeout-connect", "--timeout-client", "--timeout-server", "--timeout-tunnel", "--retries", "-f");

    /** Errors about the command line as a whole, quoting no argument. */
    private static final List<String> WHOLE = List.of("no configuration: ", "'--listen' is missing", "'--server' is missing");

    @Test
    void mutatedCommandLinesFailCleanly() {
        Random seeds = new Random(SEED);
        int rejected = 0;
        for (int n = 0; n < CASES; n++) {
            long caseSeed = seeds.nextLong();
            Random r = new Random(caseSeed);
            List<String> args = new ArrayList<>(VALID.get(r.nextInt(VALID.size())));
            int mutations = 1 + r.nextInt(3);
            for (int m = 0; m < mutations; m++) mutate(args, r);
            String what = "seed " + SEED + ", case " + n + " (case seed " + caseSeed + "): " + args;
            List<String> errors;
            try {
                CommandLine cl = CommandLine.parse(args.toArray(String[]::new));
                if (cl.action() == CommandLine.Action.RUN || cl.action() == CommandLine.Action.CHECK) cl.config();
                // accepted: then nothing was silently dropped or contradicted
                for (List<String> names : SINGLE) {
                    long times = args.stream().filter(a -> names.stream().anyMatch(f -> a.equals(f) || a.startsWith(f + "="))).count();
                    assertTrue(times <= 1, () -> names.getFirst() + " given " + times + " times, yet accepted: " + what);
                }
                assertTrue(!args.contains("--no-splice") || args.stream().noneMatch(a -> a.startsWith("--splice-")),
                        () -> "--no-splice with --splice-*, yet accepted: " + what);
                continue;
            } catch (ConfigException e) {
                errors = e.errors();
            } catch (RuntimeException e) {
                throw new AssertionError("escaped: " + e + "\n" + what, e);
            }
            rejected++;
            for (int a = 1; a < args.size(); a++) {
                // a negative number after a flag that takes a value is that flag's bad value, not an unknown option
                String arg = args.get(a);
                if (VALUE_FLAGS.contains(args.get(a - 1)) && arg.matches("-[0-9].*") && Collections.frequency(args, arg) == 1) {
                    assertTrue(!errors.contains("unknown option '" + arg + "' (see --help)"),
                            () -> "'" + arg + "' called an unknown option: " + errors + "\n" + what);
                }
            }
            assertTrue(errors.size() <= args.size(), () -> "more errors than arguments: " + errors + "\n" + what);
            for (String e : errors) {
                assertTrue(!e.isBlank() && e.chars().noneMatch(Character::isISOControl), () -> "not one line: " + e + "\n" + what);
                assertTrue(!e.contains("Exception") && !e.contains("java."), () -> "leaks internals: " + e + "\n" + what);
                boolean quotesAnArgument = args.stream().anyMatch(a -> quotes(e, a));
                assertTrue(quotesAnArgument || WHOLE.stream().anyMatch(e::startsWith),
                        () -> "names no argument: " + e + "\n" + what);
            }
        }
        assertTrue(rejected > CASES / 2, "only " + rejected + " of " + CASES + " mutated command lines were rejected");
    }

    /**
     * True if {@code error} quotes {@code arg}, or its flag part before '=' (as it names '--maxconn'
     * for '--maxconn=x'), or starts with it as a file name ("x.cfg: cannot read configuration file: ...").
     */
    private static boolean quotes(String error, String arg) {
        if (error.contains("'" + arg + "'") || error.startsWith(arg + ": ")) return true;
        int eq = arg.indexOf('=');
        return eq > 0 && error.contains("'" + arg.substring(0, eq) + "'");
    }

    private static void mutate(List<String> args, Random r) {
        int i = args.isEmpty() ? 0 : r.nextInt(args.size());
        switch (r.nextInt(8)) {
            case 0 -> { if (!args.isEmpty()) args.remove(i); }
            case 1 -> { if (!args.isEmpty()) args.add(i, args.get(i)); }
            case 2 -> {
                // a flag and its value, again (a duplicate flag)
                if (i + 1 < args.size()) args.addAll(List.of(args.get(i), args.get(i + 1)));
            }
            case 3 -> {
                if (args.size() < 2) return;
                int j = r.nextInt(args.size());
                String a = args.get(i);
                args.set(i, args.get(j));
                args.set(j, a);
            }
            case 4 -> { if (!args.isEmpty()) args.set(i, JUNK[r.nextInt(JUNK.length)]); }
            case 5 -> args.add(i, JUNK[r.nextInt(JUNK.length)]);
            case 6 -> {
                // --flag value <-> --flag=value, or a random flag with a junk value in either form
                String flag = FLAGS[r.nextInt(FLAGS.length)];
                String value = JUNK[r.nextInt(JUNK.length)];
                if (r.nextBoolean()) args.add(i, flag + "=" + value); else args.addAll(i, List.of(flag, value));
            }
            default -> args.add(i, FLAGS[r.nextInt(FLAGS.length)]);
        }
    }
}
