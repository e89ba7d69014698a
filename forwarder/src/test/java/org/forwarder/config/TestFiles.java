package org.forwarder.config;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

/** Locates the test corpus and the repository's etc/ directory. */
final class TestFiles {

    /** The environment the corpus is parsed with, so "$VAR" lines do not depend on the machine. */
    static final Function<String, String> ENV = Map.of("FWD_TEST_HOST", "127.0.0.1")::get;

    private TestFiles() {}

    static Path resource(String path) {
        URL url = TestFiles.class.getResource("/config/" + path);
        if (url == null) throw new IllegalStateException("missing test resource config/" + path);
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static List<Path> corpus(String dir) {
        try (Stream<Path> files = Files.list(resource(dir))) {
            return files.filter(p -> p.toString().endsWith(".cfg")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Parses a corpus file with {@link #ENV}; errors name just the file name. */
    static Config parseGood(String name) throws ConfigException {
        return parseWithEnv(resource("good/" + name));
    }

    static Config parseWithEnv(Path file) throws ConfigException {
        try {
            return ConfigParser.parse(Files.readString(file), file.getFileName().toString(), ENV);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The repository's etc/ directory, found upwards from the working directory (the module directory under Maven). */
    static Path etc() {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null) {
            Path candidate = dir.resolve("etc/forwarder.cfg");
            if (Files.isRegularFile(candidate)) return dir.resolve("etc");
            dir = dir.getParent();
        }
        throw new IllegalStateException("etc/forwarder.cfg not found above " + Path.of("").toAbsolutePath());
    }
}
