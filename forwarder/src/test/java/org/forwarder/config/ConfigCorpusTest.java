package org.forwarder.config;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every file in config/good must parse; every file in config/bad must fail with the message
 * its first line announces ({@code # expect: FILE:LINE: ...}).
 */
class ConfigCorpusTest {

    private static final String EXPECT = "# expect: ";

    @TestFactory
    Stream<DynamicTest> goodFilesParse() {
        return TestFiles.corpus("good").stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(),
                () -> assertDoesNotThrow(() -> TestFiles.parseWithEnv(file))));
    }

    @TestFactory
    Stream<DynamicTest> badFilesFailWithTheExpectedMessage() {
        return TestFiles.corpus("bad").stream().map(file -> DynamicTest.dynamicTest(file.getFileName().toString(), () -> {
            String expected = expectation(file);
            ConfigException e = assertThrows(ConfigException.class, () -> ConfigParser.parse(file));
            // Messages name the path as given; expectations use just the file name.
            String message = e.getMessage().replace(file.getParent() + "/", "");
            assertTrue(message.contains(expected),
                    () -> "expected to find\n  " + expected + "\nin\n  " + message.replace("\n", "\n  "));
        }));
    }

    @Test
    void corpusIsLargeEnough() {
        assertTrue(TestFiles.corpus("bad").size() >= 15);
        assertFalse(TestFiles.corpus("good").isEmpty());
    }

    private static String expectation(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        String first = lines.isEmpty() ? "" : lines.getFirst();
        assertTrue(first.startsWith(EXPECT), file + " must start with '" + EXPECT + "<part of the error>'");
        String expected = first.substring(EXPECT.length()).strip();
        assertTrue(expected.startsWith(file.getFileName() + ":"), file + ": the expectation must name FILE:LINE");
        return expected;
    }
}
