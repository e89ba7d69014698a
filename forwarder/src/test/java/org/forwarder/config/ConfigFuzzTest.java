package org.forwarder.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded mutations of the shipped configurations (etc/, etc/examples/, the good test corpus), each
 * checked exactly as {@code -c -f FILE} does, in this JVM. Whatever the bytes, the outcome is a
 * Config or a ConfigException whose every line names the file and a line of it; nothing else
 * escapes and no case takes long. A failure prints the seed, the case and its mutations; rerun one
 * seed with {@code -Dforwarder.fuzz.seed=N} (and {@code -Dforwarder.fuzz.cases=N}).
 */
class ConfigFuzzTest {

    private static final long SEED = Long.getLong("forwarder.fuzz.seed", 20261122L);
    private static final int CASES = Integer.getInteger("forwarder.fuzz.cases", 600);
    /** Generous: a case takes a millisecond or so; this only tells a hang from slowness. */
    private static final long CASE_LIMIT_MS = 3_000;

    /** The only errors that concern the whole file rather than a line of it. */
    private static final List<String> WHOLE_FILE = List.of("no 'listen' or 'frontend' section: there is nothing to forward");

    private static final String[] BYTES_OF_NOTE = {"\0", "\u00ff", "\u0080", "\u00c3", "\n", "\r", "\t", " ", "\"", "'",
            "\\", "#", "$", "{", "}", ":", ",", "-", "@", "[", "]", "="};
    private static final String[] NUMBERS = {"99999999999999999999", "2147483647", "2147483648", "-1", "0", "4294967296",
            "1e9", "00000000000000000001", "18446744073709551616", "-0", "+5", "0x10", "1.5", "65536", "1-65535", "9d", "25d"};
    /** Non-ASCII text, written as UTF-8. */
    private static final String[] UNICODE = {"é", "☕", "😀", "\u202e", "\ufffd", "e\u0301", "\u00a0", "\u2028", "１２３",
            "\ud800", "Ω", "\u0085", "\ufeff"};
    private static final String[] LINES = {"listen x", "frontend f", "backend b", "defaults", "defaults d", "global",
            "listen x from d", "userlist u", "bind :1-65535", "bind 127.0.0.1:8080,:8081", "bind unix@/x", "bind",
            "server s 127.0.0.1:0", "server s :1 weight 999", "server s 127.0.0.1:1 maxconn -1 check", "server",
            "timeout connect 99999999999d", "timeout client", "timeout tarpit 1s", "option splice-auto extra",
            "no option splice-request", "no option", "no", "option", "balance", "balance source", "default_backend nowhere",
            "default_backend", "maxconn 0", "maxpipes -1", "tune.bufsize 1g", "tune.pipesize 1", "tune.buffers.limit 2",
            "nbthread 4", "nosplice x", "mode http", "retries 99999999999", "\"quoted word", "'single", "a\\x4", "${UNSET}",
            "\"${HOME}\"", "#", "\\", "log stdout format raw local0"};
    private static final String[] WORDS = {"listen", "server", "bind", "timeout", "option", "no", "global", "defaults",
            "backend", "frontend", "maxconn", "\"\"", "''", "from", "weight", ":0", "[::1]:80", "0.0.0.0:1", "tcp"};

    @Test
    void mutatedConfigurationsFailCleanly(@TempDir Path dir) throws Exception {
        List<Path> sources = sources();
        Random seeds = new Random(SEED);
        ExecutorService worker = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform().daemon().name("fuzz").unstarted(r));
        long start = System.nanoTime();
        int failed = 0;
        int valid = 0;
        try {
            for (int n = 0; n < CASES; n++) {
                long caseSeed = seeds.nextLong();
                Random r = new Random(caseSeed);
                Path source = sources.get(r.nextInt(sources.size()));
                List<String> applied = new ArrayList<>();
                String text = new String(Files.readAllBytes(source), StandardCharsets.ISO_8859_1); // one char per byte
                int mutations = 1 + r.nextInt(3);
                for (int m = 0; m < mutations; m++) text = mutate(text, r, applied);
                byte[] content = text.getBytes(StandardCharsets.ISO_8859_1);
                Path file = dir.resolve("case-" + n + ".cfg");
                Files.write(file, content);
                String what = "seed " + SEED + ", case " + n + " (case seed " + caseSeed + "): " + source.getFileName()
                        + " " + applied + "\n--- content (ISO-8859-1 view) ---\n" + shorten(text);

                Future<Object> outcome = worker.submit(() -> check(file));
                Object result;
                try {
                    result = outcome.get(CASE_LIMIT_MS, TimeUnit.MILLISECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("no result within " + CASE_LIMIT_MS + " ms: " + what);
                } catch (ExecutionException e) {
                    throw new AssertionError("escaped: " + e.getCause() + "\n" + what, e.getCause());
                }
                if (result instanceof ConfigException ce) {
                    failed++;
                    checkErrors(ce.errors(), file, lineCount(content), what);
                } else {
                    valid++;
                }
                Files.delete(file);
            }
        } finally {
            worker.shutdownNow();
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        System.out.println("config fuzz: seed " + SEED + ", " + CASES + " cases (" + failed + " rejected, " + valid
                + " valid) in " + ms + " ms");
        // Mutations must mostly break things, or this test checks nothing.
        assertTrue(failed > CASES / 2, "only " + failed + " of " + CASES + " mutated files were rejected");
    }

    /** {@code -c -f file}: a Config or the ConfigException; anything else propagates. */
    private static Object check(Path file) {
        try {
            return CommandLine.parse(new String[] {"-c", "-f", file.toString()}).config();
        } catch (ConfigException e) {
            return e;
        }
    }

    private static void checkErrors(List<String> errors, Path file, int lines, String what) {
        Pattern located = Pattern.compile(Pattern.quote(file.toString()) + ":(\\d+): \\S.*");
        for (String e : errors) {
            assertTrue(e.chars().noneMatch(c -> Character.isISOControl(c) || c == '\u2028' || c == '\u2029'),
                    () -> "error holds control characters: " + e + "\n" + what);
            assertTrue(!e.contains("Exception") && !e.contains("java."), () -> "error leaks internals: " + e + "\n" + what);
            Matcher m = located.matcher(e);
            if (m.matches()) {
                int line = Integer.parseInt(m.group(1));
                assertTrue(line >= 1 && line <= lines, () -> "line " + line + " is not in the file (" + lines + " lines): " + e + "\n" + what);
            } else {
                assertTrue(WHOLE_FILE.stream().anyMatch(w -> e.equals(file + ": " + w)),
                        () -> "error does not name FILE:LINE: " + e + "\n" + what);
            }
        }
    }

    /** Lines as an editor counts them: a last line without a newline still counts. */
    private static int lineCount(byte[] content) {
        int n = 0;
        for (byte b : content) if (b == '\n') n++;
        return content.length > 0 && content[content.length - 1] != '\n' ? n + 1 : n;
    }

    private static String mutate(String text, Random r, List<String> applied) {
        int op = r.nextInt(15);
        int at = text.isEmpty() ? 0 : r.nextInt(text.length() + 1);
        switch (op) {
            case 0 -> {
                if (text.isEmpty()) return text;
                int i = Math.min(at, text.length() - 1);
                int bit = r.nextInt(8);
                applied.add("flip bit " + bit + " of byte " + i);
                return text.substring(0, i) + (char) ((text.charAt(i) ^ (1 << bit)) & 0xff) + text.substring(i + 1);
            }
            case 1 -> {
                if (text.isEmpty()) return text;
                int i = Math.min(at, text.length() - 1);
                String b = r.nextBoolean() ? pick(r, BYTES_OF_NOTE) : String.valueOf((char) r.nextInt(256));
                applied.add("set byte " + i + " to 0x" + Integer.toHexString(b.charAt(0)));
                return text.substring(0, i) + b + text.substring(i + 1);
            }
            case 2, 3, 4 -> {
                List<String> lines = new ArrayList<>(List.of(text.split("\n", -1)));
                int i = r.nextInt(lines.size());
                int j = r.nextInt(lines.size());
                if (op == 2) {
                    lines.remove(i);
                    applied.add("delete line " + (i + 1));
                } else if (op == 3) {
                    lines.add(i, lines.get(i));
                    applied.add("duplicate line " + (i + 1));
                } else {
                    String li = lines.get(i);
                    lines.set(i, lines.get(j));
                    lines.set(j, li);
                    applied.add("swap lines " + (i + 1) + " and " + (j + 1));
                }
                return String.join("\n", lines);
            }
            case 5 -> {
                List<int[]> tokens = tokens(text, "[^ \t\n]+");
                if (tokens.size() < 2) return text;
                int[] a = tokens.get(r.nextInt(tokens.size()));
                int[] b = tokens.get(r.nextInt(tokens.size()));
                if (a[0] == b[0]) return text;
                if (a[0] > b[0]) { int[] t = a; a = b; b = t; }
                applied.add("swap words at " + a[0] + " and " + b[0]);
                return text.substring(0, a[0]) + text.substring(b[0], b[1]) + text.substring(a[1], b[0])
                        + text.substring(a[0], a[1]) + text.substring(b[1]);
            }
            case 6 -> {
                applied.add("truncate at " + at);
                return text.substring(0, at);
            }
            case 7 -> {
                List<int[]> numbers = tokens(text, "[0-9]+");
                String n = pick(r, NUMBERS);
                if (numbers.isEmpty()) return text;
                int[] t = numbers.get(r.nextInt(numbers.size()));
                applied.add("number at " + t[0] + " -> " + n);
                return text.substring(0, t[0]) + n + text.substring(t[1]);
            }
            case 8 -> {
                String u = pick(r, UNICODE);
                applied.add("insert U+" + Integer.toHexString(u.codePointAt(0)) + " at " + at);
                return text.substring(0, at) + latin1View(u) + text.substring(at);
            }
            case 9 -> {
                int kind = r.nextInt(4);
                if (kind == 3) {
                    applied.add("LF -> CRLF");
                    return text.replace("\n", "\r\n");
                }
                String blank = kind == 0 ? "\n\n" : kind == 1 ? "   \n" : "\t\n";
                int nl = text.indexOf('\n', at);
                int i = nl < 0 ? text.length() : nl + 1;
                applied.add("blank line at " + i);
                return text.substring(0, i) + blank + text.substring(i);
            }
            case 10 -> {
                int len = 1_500 + r.nextInt(4_000);
                String filler = r.nextBoolean() ? "9" : "ab ";
                String line = ("    server s " + filler.repeat(len / filler.length() + 1)).substring(0, len);
                int nl = text.indexOf('\n', at);
                int i = nl < 0 ? text.length() : nl + 1;
                applied.add("insert a " + len + "-byte line at " + i);
                return text.substring(0, i) + line + "\n" + text.substring(i);
            }
            case 11 -> {
                String line = pick(r, LINES);
                int nl = text.indexOf('\n', at);
                int i = nl < 0 ? text.length() : nl + 1;
                String indent = r.nextBoolean() ? "    " : "";
                applied.add("insert line '" + line + "' at " + i);
                return text.substring(0, i) + indent + line + "\n" + text.substring(i);
            }
            case 12 -> {
                String noise = pick(r, new String[] {"\"", "'", "\\", "\\x", "\\x4", "${", "${X", "$HOME", "#", "\"#\"", "\\ "});
                applied.add("insert " + noise + " at " + at);
                return text.substring(0, at) + noise + text.substring(at);
            }
            case 13 -> {
                List<int[]> ports = tokens(text, ":[0-9]+");
                if (ports.isEmpty()) return text;
                int[] t = ports.get(r.nextInt(ports.size()));
                String range = pick(r, new String[] {":1-65535", ":65535-1", ":8000-8100", ":0-5", ":1-", ":-1", ":,", ":8080,:8080"});
                applied.add("port at " + t[0] + " -> " + range);
                return text.substring(0, t[0]) + range + text.substring(t[1]);
            }
            default -> {
                List<int[]> tokens = tokens(text, "[^ \t\n]+");
                if (tokens.isEmpty()) return text;
                int[] t = tokens.get(r.nextInt(tokens.size()));
                String w = pick(r, WORDS);
                applied.add("word at " + t[0] + " -> " + w);
                return text.substring(0, t[0]) + w + text.substring(t[1]);
            }
        }
    }

    private static List<int[]> tokens(String text, String regex) {
        List<int[]> out = new ArrayList<>();
        Matcher m = Pattern.compile(regex).matcher(text);
        while (m.find()) out.add(new int[] {m.start(), m.end()});
        return out;
    }

    private static String pick(Random r, String[] options) {
        return options[r.nextInt(options.length)];
    }

    /** The UTF-8 bytes of {@code s}, one char per byte (lone surrogates become '?', which is fine here). */
    private static String latin1View(String s) {
        return new String(s.getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    }

    private static String shorten(String text) {
        String t = text.length() > 3000 ? text.substring(0, 3000) + "...(" + text.length() + " bytes)" : text;
        StringBuilder sb = new StringBuilder();
        for (char c : t.toCharArray()) {
            if (c == '\n' || (c >= 0x20 && c < 0x7f)) sb.append(c);
            else sb.append(String.format("\\x%02x", (int) c));
        }
        return sb.toString();
    }

    /** etc/forwarder.cfg, etc/examples/*.cfg and the good corpus. */
    private static List<Path> sources() throws IOException {
        Path etc = TestFiles.etc();
        List<Path> out = new ArrayList<>();
        out.add(etc.resolve("forwarder.cfg"));
        try (Stream<Path> examples = Files.list(etc.resolve("examples"))) {
            examples.filter(p -> p.toString().endsWith(".cfg")).sorted().forEach(out::add);
        }
        out.addAll(TestFiles.corpus("good"));
        return out;
    }
}
