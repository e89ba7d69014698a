package org.forwarder.config;

/**
 * Parses the numbers, sizes and durations of the configuration language. Errors are
 * IllegalArgumentExceptions whose message describes the value only; callers prefix the keyword.
 */
final class Values {

    /** HAProxy stores timers as signed 32-bit milliseconds; larger values would wrap. */
    static final long MAX_TIME_MS = Integer.MAX_VALUE;

    private Values() {}

    /** A decimal integer within [min, max]. */
    static int integer(String text, int min, int max) {
        long v;
        try {
            v = digits(text, text);
        } catch (NumberFormatException e) {
            // Signs, spaces, fractions: say what is expected, so "-1" is as clear as "0".
            throw new IllegalArgumentException("'" + text + "' is not a valid number: expected a whole number, "
                    + range(min, max));
        } catch (IllegalArgumentException tooLarge) {
            if (max == Integer.MAX_VALUE) throw tooLarge;
            v = Long.MAX_VALUE;
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("'" + text + "' is out of range: expected " + range(min, max));
        }
        return (int) v;
    }

    /**
     * A duration in milliseconds: a plain number is milliseconds; suffixes us, ms, s, m, h, d.
     * Microseconds round up so that a tiny non-zero timeout never turns into 0 (= infinite).
     */
    static long timeMs(String text) {
        int end = 0;
        while (end < text.length() && Character.isDigit(text.charAt(end))) end++;
        if (end == 0) {
            throw new IllegalArgumentException("'" + text + "' is not a duration: expected a number with an optional unit (us, ms, s, m, h, d)");
        }
        long value = digits(text.substring(0, end), text);
        String unit = text.substring(end);
        long ms = switch (unit) {
            case "", "ms" -> value;
            case "us" -> (value + 999) / 1000;
            case "s" -> times(value, 1_000L, text);
            case "m" -> times(value, 60_000L, text);
            case "h" -> times(value, 3_600_000L, text);
            case "d" -> times(value, 86_400_000L, text);
            default -> throw new IllegalArgumentException("'" + text + "' has an unknown time unit '" + unit
                    + "': use us, ms, s, m, h or d");
        };
        if (ms > MAX_TIME_MS) {
            throw new IllegalArgumentException("'" + text + "' is too long: the maximum is " + MAX_TIME_MS + " ms (about 24.8 days)");
        }
        return ms;
    }

    /** A byte count: a plain number, or with a k, m or g suffix (powers of 1024), within [min, max]. */
    static int size(String text, int min, int max) {
        String num = text;
        long mult = 1;
        if (!text.isEmpty()) {
            switch (Character.toLowerCase(text.charAt(text.length() - 1))) {
                case 'k' -> mult = 1L << 10;
                case 'm' -> mult = 1L << 20;
                case 'g' -> mult = 1L << 30;
                default -> { }
            }
            if (mult != 1) num = text.substring(0, text.length() - 1);
        }
        long v;
        try {
            v = times(digits(num, text), mult, text);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' is not a valid size: expected a whole number of bytes,"
                    + " optionally followed by k, m or g");
        } catch (IllegalArgumentException tooLarge) {
            if (max == Integer.MAX_VALUE) throw tooLarge;
            v = Long.MAX_VALUE;
        }
        if (v < min || v > max) {
            throw new IllegalArgumentException("'" + text + "' is out of range: expected " + range(min, max));
        }
        return (int) v;
    }

    /** Parses unsigned decimal digits; anything else (signs, spaces, empty) is "not a number". */
    private static long digits(String num, String original) {
        if (num.isEmpty()) throw notNumber(original);
        long v = 0;
        for (int i = 0; i < num.length(); i++) {
            char c = num.charAt(i);
            if (c < '0' || c > '9') throw notNumber(original);
            v = v * 10 + (c - '0');
            if (v > Integer.MAX_VALUE) {
                // Keep going only to tell "not a number" from "too big".
                for (int j = i + 1; j < num.length(); j++) {
                    if (num.charAt(j) < '0' || num.charAt(j) > '9') throw notNumber(original);
                }
                throw new IllegalArgumentException("'" + original + "' is too large: the maximum is " + Integer.MAX_VALUE);
            }
        }
        return v;
    }

    private static long times(long value, long mult, String original) {
        try {
            return Math.multiplyExact(value, mult);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("'" + original + "' is too large");
        }
    }

    /** A NumberFormatException (an IllegalArgumentException) so that callers can add what they expected. */
    private static IllegalArgumentException notNumber(String text) {
        return new NumberFormatException("'" + text + "' is not a valid number");
    }

    private static String range(int min, int max) {
        return max == Integer.MAX_VALUE ? "at least " + min : min + " to " + max;
    }
}
