package org.forwarder.config;

import java.util.BitSet;
import java.util.List;

/**
 * One {@code cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>...} line, read as HAProxy 2.6
 * reads it (doc/configuration.txt "cpu-map", parse_process_number and parse_cpu_set), stricter
 * where HAProxy 2.6 would silently misread the line:
 * <ul>
 * <li>process set: {@code 1} or {@code all}. nbproc is gone (HAProxy 2.5), so any other process
 *     is an error here; HAProxy 2.6 accepts and quietly misapplies it.
 * <li>thread set: {@code all}, {@code odd}, {@code even}, a number from 1 to 64, a range
 *     {@code a-b} (reversed bounds are swapped, as HAProxy does) or {@code a-} (up to 64). A range
 *     without its lower bound ({@code -b}) is an error, as in HAProxy. Without a thread set the line
 *     maps the whole process, which HAProxy documents as "strictly equivalent to 1/all".
 * <li>CPU sets: one or more words, each a number from 0 to 1023 (CPU_SETSIZE - 1) or a range
 *     {@code a-b} / {@code a-}. HAProxy 2.6 does not accept commas in cpu-map (it stops reading a
 *     word at the comma, losing the rest), and reads "1x" as 1: both are errors here.
 * <li>{@code auto:} pairs threads and CPUs one to one in increasing order, whatever order the CPU
 *     sets were written in; both sets must then have the same size.
 * </ul>
 */
final class CpuMapLine {

    static final String USAGE = "expects [auto:]<process>[/<threads>] followed by one or more CPU sets,"
            + " e.g. 'cpu-map 1/1-4 0-3' or 'cpu-map auto:1/all 0-63'";

    /** Thread numbers as written (bit n = thread n, 1-based); every thread for the whole-process form. */
    final BitSet threads;
    /** The CPUs named by all the CPU-set words together. */
    final BitSet cpus;
    /** auto: with a thread set: the n-th thread gets the n-th CPU (auto: on the whole process needs one CPU). */
    final boolean paired;
    /** The thread set ends at a number the user wrote (not all/odd/even/"a-"/whole process). */
    final boolean explicitEnd;

    private CpuMapLine(BitSet threads, BitSet cpus, boolean paired, boolean explicitEnd) {
        this.threads = threads;
        this.cpus = cpus;
        this.paired = paired;
        this.explicitEnd = explicitEnd;
    }

    /** Reads the words after {@code cpu-map}; throws IllegalArgumentException with the problem. */
    static CpuMapLine parse(List<String> args) {
        if (args.size() < 2) throw new IllegalArgumentException(USAGE);
        String set = args.getFirst();
        boolean auto = set.startsWith("auto:");
        if (auto) set = set.substring("auto:".length());
        int slash = set.indexOf('/');
        String process = slash < 0 ? set : set.substring(0, slash);
        if (!process.equals("1") && !process.equals("all")) {
            throw new IllegalArgumentException(describeProcess(process));
        }
        BitSet threads = new BitSet();
        boolean explicitEnd = false;
        if (slash < 0) {
            threads.set(1, CpuMap.MAX_THREADS + 1); // the whole process: every thread
        } else {
            String t = set.substring(slash + 1);
            explicitEnd = parseThreads(t, threads);
        }
        BitSet cpus = new BitSet();
        for (String word : args.subList(1, args.size())) parseCpus(word, cpus);

        if (auto) {
            // the whole-process form maps one process: it pairs with exactly one CPU
            int wanted = slash < 0 ? 1 : threads.cardinality();
            if (cpus.cardinality() != wanted) {
                throw new IllegalArgumentException(slash < 0
                        ? "'auto:' without a thread set binds the one process, so it needs exactly one CPU, got "
                          + cpus.cardinality() + " (" + list(cpus) + "); write 'auto:1/<threads>' to pair threads with CPUs"
                        : "'auto:' pairs threads with CPUs one to one, so both sets must have the same size: "
                          + wanted + " thread(s) (" + list(threads) + ") but " + cpus.cardinality()
                          + " CPU(s) (" + list(cpus) + ")");
            }
        }
        return new CpuMapLine(threads, cpus, auto && slash >= 0, explicitEnd);
    }

    private static String describeProcess(String p) {
        if (!p.isEmpty() && p.chars().allMatch(c -> Character.isDigit(c) || c == '-') || p.equals("odd") || p.equals("even")) {
            return "process set '" + p + "' names processes other than 1: nbproc was removed in HAProxy 2.5 and"
                    + " the only process is 1 (write '1/<threads>' or 'all/<threads>')";
        }
        return "'" + p + "' is not a valid process set: expected 1 or all, optionally followed by /<threads>";
    }

    /** Sets the named threads; returns true if the set ends at a number the user wrote. */
    private static boolean parseThreads(String t, BitSet into) {
        int max = CpuMap.MAX_THREADS;
        switch (t) {
            case "all" -> { into.set(1, max + 1); return false; }
            case "odd" -> { for (int i = 1; i <= max; i += 2) into.set(i); return false; }
            case "even" -> { for (int i = 2; i <= max; i += 2) into.set(i); return false; }
            default -> { }
        }
        String why = "expected all, odd, even, a thread number from 1 to " + max + " or a range (1-4, 2-)";
        int dash = t.indexOf('-');
        String lo = dash < 0 ? t : t.substring(0, dash);
        String hi = dash < 0 ? t : t.substring(dash + 1);
        if (dash == 0 && digits(hi)) {
            throw new IllegalArgumentException("'" + t + "' is not a valid thread set: a range needs its lower bound"
                    + " (1-" + hi + "); only the upper one may be left out (" + hi + "-)");
        }
        if (!digits(lo) || !(digits(hi) || dash >= 0 && hi.isEmpty())) {
            throw new IllegalArgumentException("'" + t + "' is not a valid thread set: " + why);
        }
        int a = number(lo, 1, max, t, "thread numbers go from 1 to " + max);
        int b = hi.isEmpty() ? max : number(hi, 1, max, t, "thread numbers go from 1 to " + max);
        into.set(Math.min(a, b), Math.max(a, b) + 1);
        return !hi.isEmpty();
    }

    private static void parseCpus(String word, BitSet into) {
        int max = CpuMap.MAX_CPUS - 1;
        if (word.indexOf(',') >= 0) {
            throw new IllegalArgumentException("'" + word + "' is not a CPU set: HAProxy 2.6 does not accept commas in"
                    + " cpu-map (it would silently keep only what comes before the first comma); write each CPU or range"
                    + " as its own word, e.g. '" + word.replace(',', ' ') + "'");
        }
        int dash = word.indexOf('-');
        String lo = dash < 0 ? word : word.substring(0, dash);
        String hi = dash < 0 ? word : word.substring(dash + 1);
        if (!digits(lo) || !(digits(hi) || dash >= 0 && hi.isEmpty())) {
            throw new IllegalArgumentException("'" + word + "' is not a CPU set: expected a CPU number from 0 to " + max
                    + " or a range (0-3, 2-)");
        }
        int a = number(lo, 0, max, word, "CPU numbers go from 0 to " + max);
        int b = hi.isEmpty() ? max : number(hi, 0, max, word, "CPU numbers go from 0 to " + max);
        into.set(Math.min(a, b), Math.max(a, b) + 1);
    }

    private static boolean digits(String s) {
        return !s.isEmpty() && s.chars().allMatch(c -> c >= '0' && c <= '9');
    }

    private static int number(String digits, int min, int max, String word, String range) {
        int v;
        try {
            v = digits.length() > 9 ? Integer.MAX_VALUE : Integer.parseInt(digits);
        } catch (NumberFormatException e) {
            v = Integer.MAX_VALUE;
        }
        if (v < min || v > max) throw new IllegalArgumentException("'" + word + "' is out of range: " + range);
        return v;
    }

    /** A set of numbers as "1-4,7". */
    static String list(BitSet set) {
        return CpuMap.format(set.stream().toArray());
    }
}
