package org.forwarder.config;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ValuesTest {

    @Test
    void times() {
        assertEquals(7, Values.timeMs("7"));
        assertEquals(7, Values.timeMs("7ms"));
        assertEquals(1, Values.timeMs("1us"));
        assertEquals(0, Values.timeMs("0us"));
        assertEquals(3_000, Values.timeMs("3s"));
        assertEquals(180_000, Values.timeMs("3m"));
        assertEquals(10_800_000, Values.timeMs("3h"));
        assertEquals(259_200_000, Values.timeMs("3d"));
        assertEquals(Integer.MAX_VALUE, Values.timeMs("2147483647"));
        assertEquals("'5 s' has an unknown time unit ' s': use us, ms, s, m, h or d",
                assertThrows(IllegalArgumentException.class, () -> Values.timeMs("5 s")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Values.timeMs("s"));
        assertThrows(IllegalArgumentException.class, () -> Values.timeMs("-5s"));
        assertThrows(IllegalArgumentException.class, () -> Values.timeMs("25d"));
        assertThrows(IllegalArgumentException.class, () -> Values.timeMs("99999999999999999999d"));
    }

    @Test
    void integers() {
        assertEquals(42, Values.integer("42", 0, 100));
        assertEquals("'101' is out of range: expected 0 to 100",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("101", 0, 100)).getMessage());
        assertEquals("'0' is out of range: expected at least 1",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("0", 1, Integer.MAX_VALUE)).getMessage());
        assertEquals("'2147483648' is too large: the maximum is 2147483647",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("2147483648", 0, Integer.MAX_VALUE)).getMessage());
        assertEquals("'99999999999x' is not a valid number: expected a whole number, 0 to 5",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("99999999999x", 0, 5)).getMessage());
        assertEquals("'-1' is not a valid number: expected a whole number, at least 0",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("-1", 0, Integer.MAX_VALUE)).getMessage());
        // too large for a bounded range: the range is what helps
        assertEquals("'99999999999' is out of range: expected 0 to 256",
                assertThrows(IllegalArgumentException.class, () -> Values.integer("99999999999", 0, 256)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> Values.integer("", 0, 5));
        assertThrows(IllegalArgumentException.class, () -> Values.integer("+1", 0, 5));
    }

    @Test
    void sizes() {
        assertEquals(4096, Values.size("4096", 0, Integer.MAX_VALUE));
        assertEquals(64 * 1024, Values.size("64k", 0, Integer.MAX_VALUE));
        assertEquals(64 * 1024, Values.size("64K", 0, Integer.MAX_VALUE));
        assertEquals(2 << 20, Values.size("2m", 0, Integer.MAX_VALUE));
        assertEquals(1 << 30, Values.size("1g", 0, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Values.size("k", 0, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Values.size("4g", 0, Integer.MAX_VALUE));
        assertThrows(IllegalArgumentException.class, () -> Values.size("1x", 0, Integer.MAX_VALUE));
        assertEquals("'-1k' is not a valid size: expected a whole number of bytes, optionally followed by k, m or g",
                assertThrows(IllegalArgumentException.class, () -> Values.size("-1k", 0, 100)).getMessage());
        assertEquals("'99999999999k' is out of range: expected 1024 to 16777216",
                assertThrows(IllegalArgumentException.class, () -> Values.size("99999999999k", 1024, 16 << 20)).getMessage());
    }
}
