package org.forwarder.config;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class TokenizerTest {

    private final Tokenizer t = new Tokenizer(Map.of("HOST", "10.0.0.1", "EMPTY", "")::get);

    @Test
    void wordsAndComments() {
        assertEquals(List.of("server", "s1", "1.2.3.4:80"), t.split("  server\ts1   1.2.3.4:80  # trailing"));
        assertEquals(List.of(), t.split("   # only a comment"));
        assertEquals(List.of(), t.split(""));
        assertEquals(List.of("a"), t.split("a#b"));
    }

    @Test
    void quotes() {
        assertEquals(List.of("a b", "c#d"), t.split("\"a b\" 'c#d'"));
        assertEquals(List.of("abc de"), t.split("a\"bc d\"e"));
        assertEquals(List.of("it's"), t.split("\"it's\""));
        assertEquals(List.of("say \"hi\""), t.split("'say \"hi\"'"));
        assertEquals(List.of("", "x"), t.split("\"\" x"));
    }

    @Test
    void escapes() {
        assertEquals(List.of("a b", "#", "\\", "\"", "'"), t.split("a\\ b \\# \\\\ \\\" \\'"));
        assertEquals(List.of("\t\r\n"), t.split("\\t\\r\\n"));
        assertEquals(List.of("A2"), t.split("\\x412"));
        assertEquals(List.of("\\q"), t.split("\\q"), "an unknown escape is kept as written");
        assertEquals(List.of("a\\ b"), t.split("'a\\ b'"), "no escapes inside single quotes");
        assertEquals(List.of("x\"y"), t.split("\"x\\\"y\""));
    }

    @Test
    void variables() {
        assertEquals(List.of("10.0.0.1:80"), t.split("\"$HOST:80\""));
        assertEquals(List.of("10.0.0.1x"), t.split("\"${HOST}x\""));
        assertEquals(List.of("$HOST"), t.split("$HOST"), "only expanded within double quotes");
        assertEquals(List.of("$HOST"), t.split("'$HOST'"));
        assertEquals(List.of(":80"), t.split("\"$UNSET:80\""), "an unset variable expands to nothing");
        assertEquals(List.of("$ 5"), t.split("\"$ 5\""));
        assertEquals(List.of("$HOST"), t.split("\"\\$HOST\""));
    }

    @Test
    void errors() {
        assertEquals("unterminated double quote opened at column 3",
                assertThrows(IllegalArgumentException.class, () -> t.split("a \"b c")).getMessage());
        assertEquals("unterminated single quote opened at column 1",
                assertThrows(IllegalArgumentException.class, () -> t.split("'abc")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.split("\\xZZ"));
        assertThrows(IllegalArgumentException.class, () -> t.split("\"${HOST\""));
    }
}
